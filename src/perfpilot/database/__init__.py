"""Database Tuner: PostgreSQL workload, health checks, index and configuration advice."""
