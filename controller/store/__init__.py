"""SQLite persistence: schema, migrations and the owner-thread store."""

from controller.store.db import Store, open_db

__all__ = ["Store", "open_db"]
