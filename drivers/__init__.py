"""Real hardware behind small interfaces (see drivers.base)."""
