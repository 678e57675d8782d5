"""Solver: resolvelib over the index, candidates ordered by distance to the training versions."""
