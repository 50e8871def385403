"""The scheduler's built-in task functions, each doing its work through a component.

Each class takes what it needs as constructor parameters (ports, callables) and exposes
``async def run() -> str`` returning the summary recorded with the run; the composition root
registers them under the specification's ``function_name``.
"""
