"""Backends that count and change a service's instances: gunicorn, Kubernetes, command, dry-run."""
