"""The Performance Optimizer: consolidated analysis, actions with measured impact, history."""
