"""Pipelines: one YAML spec per paper table or figure, expanded into cached cells."""
