"""Simulated hardware speaking the same bytes and pin levels as the real devices."""
