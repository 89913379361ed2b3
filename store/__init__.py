"""Durable storage: one database for conversation state and the school's records."""
