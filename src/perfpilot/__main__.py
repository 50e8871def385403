"""`python -m perfpilot` runs the CLI."""

from perfpilot.cli.main import main

main()
