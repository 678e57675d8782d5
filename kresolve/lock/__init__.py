"""Lockfile writers (requirements.txt for now) and all-or-nothing output."""
