"""Where a ledger keeps its tables: :class:`SqliteStore` embedded; PostgreSQL later."""

from __future__ import annotations

from affidavit.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
