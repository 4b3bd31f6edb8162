"""Datasets: streaming frame sequences read from disk, and embedded mini datasets built from package media."""
