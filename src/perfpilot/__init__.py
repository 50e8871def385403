"""perfpilot: a performance autopilot for FastAPI + PostgreSQL + Redis services."""

__version__ = "0.1.0"
