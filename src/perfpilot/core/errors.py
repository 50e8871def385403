"""Errors that cross component boundaries."""


class PerfpilotError(Exception):
    """Base of perfpilot's own errors."""


class ConfigError(PerfpilotError):
    """A setting or config-file value is invalid; the message names it and its value."""


class NotFoundError(PerfpilotError):
    """The addressed object does not exist."""


class ConflictError(PerfpilotError):
    """The request conflicts with the object's current state."""


class TransientError(PerfpilotError):
    """A failure worth retrying (a lost connection, a lock timeout); other errors are final."""
