"""Where a ledger keeps its tables: :class:`SqliteStore` embedded; the collector's
:class:`affidavit.store.postgres.PostgresStore` (the `server` extra, so not imported here)."""

from __future__ import annotations

from affidavit.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
