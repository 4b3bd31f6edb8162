"""Figures and generated tables, drawn from the results store only."""
