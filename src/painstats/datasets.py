"""Bundled datasets (being written)."""
