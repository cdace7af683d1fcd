"""Checks that run in a worker thread beside the row pass, on a second store that reads the
same snapshot (:meth:`affidavit.store.sqlite.SqliteStore.paired_snapshot`).

The row pass is Python and holds the interpreter lock; the medium check (SQLite's page
check) and the view checks are SQL, and SQLite releases the lock while it works, so on two
cores the two sides take the time of the longer one instead of the sum. What a failure
reports does not change: damage to the medium comes first, then a failing record, then a
view, as when they run one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from threading import Event, Thread
from typing import Generic, TypeVar

from affidavit.store.log import LogStore

S = TypeVar("S", bound=LogStore)


class Beside(Generic[S]):
    """Starts at once: ``store.check_pages()``, then each view check in order."""

    def __init__(self, store: S, views: Sequence[tuple[str, Callable[[S], int]]]) -> None:
        self._store = store
        self._views = views
        self._done: list[tuple[str, int]] = []
        self._damage: BaseException | None = None
        self._error: BaseException | None = None
        self._paged = Event()
        self._stopped = False
        self._thread = Thread(target=self._run, name="affidavit-verify-beside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._store.check_pages()
        except BaseException as e:  # handed to the caller's thread
            self._damage = e
            return
        finally:
            self._paged.set()
        try:
            for name, check in self._views:
                if self._stopped:
                    return
                self._done.append((name, check(self._store)))
        except BaseException as e:
            self._error = e

    def result(self) -> tuple[tuple[str, int], ...]:
        """Wait; raise the damage or the first view failure, else each view's row count."""
        self._thread.join()
        if self._damage is not None:
            raise self._damage
        if self._error is not None:
            raise self._error
        return tuple(self._done)

    def cancel(self) -> BaseException | None:
        """The rows failed: let the page check finish (damage explains a failing row and
        is reported instead), stop the views; returns the damage found, if any."""
        self._paged.wait()
        self._stopped = True
        interrupt = getattr(self._store, "interrupt", None)  # a store that cannot: wait
        if interrupt is not None:
            interrupt()
        self._thread.join()
        return self._damage
