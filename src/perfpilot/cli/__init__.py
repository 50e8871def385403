"""The perfpilot command line."""
