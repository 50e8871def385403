"""Performance Scheduler: cron tasks with time zones, limits, retries and one runner per slot.

When (``trigger``), what (``task``), the run records (``run``), the pure decisions (``policy``)
and where state lives (``ports``, implemented by ``perfpilot.store``) are separate; the engine
(``engine``) ties them together and knows nothing about what the task functions do.
"""
