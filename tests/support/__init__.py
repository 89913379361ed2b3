"""Helpers shared by the test suite (card validation and the like)."""
