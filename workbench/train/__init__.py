"""Training: clip sampling, the loop, atomic resumable checkpoints."""
