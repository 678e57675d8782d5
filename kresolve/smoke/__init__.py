"""Smoke test: isolated environment from the lock, subprocess loader, comparison."""
