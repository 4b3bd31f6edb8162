"""Degradations: pure, seeded functions of (clip, params, seed)."""
