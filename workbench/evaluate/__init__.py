"""Evaluation: metrics, streaming inference, complexity audit, codec study."""
