"""Settings, clock, errors: what every component may import."""
