"""Checks that run in a worker thread beside the row pass, on a second store that reads the
same snapshot (:meth:`affidavit.store.sqlite.SqliteStore.paired_snapshot`).

The row pass is Python and holds the interpreter lock; the medium check (SQLite's page
check) and the view checks are SQL, and SQLite releases the lock while it works, so on two
cores the two sides take the time of the longer one instead of the sum. A view check given
as a :class:`SplitCheck` comes in parts (ranges of seqs) that both sides take from one
queue: the worker after the page check, the caller's thread once its rows are done, so
neither core idles while the other still has a long view to check. What a failure reports
does not change: damage to the medium comes first, then a failing record, then the first
failing view in order, and within a view its first failing part, as when they run one after
the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Condition, Event, Thread
from typing import Generic, TypeVar

from affidavit.store.log import LogStore

S = TypeVar("S", bound=LogStore)
Part = tuple[int | None, int | None]  # seqs start <= seq < end; None: unbounded


@dataclass(frozen=True, slots=True)
class SplitCheck(Generic[S]):
    """A view check in parts: ``parts`` lists them (cheaply), ``part`` checks one and raises
    on its first failure, ``finish`` checks what spans the parts and returns the number of
    rows checked. Called whole, it is the plain check: every part in order, then finish."""

    parts: Callable[[S], Sequence[Part]]
    part: Callable[[S, Part], None]
    finish: Callable[[S], int]

    def __call__(self, store: S) -> int:
        for part in self.parts(store):
            self.part(store, part)
        return self.finish(store)


class Beside(Generic[S]):
    """Starts at once: ``store.check_pages()``, then each view check in order."""

    def __init__(self, store: S, views: Sequence[tuple[str, Callable[[S], int]]]) -> None:
        self._store = store
        self._views = views
        self._done: list[tuple[str, int]] = []
        self._damage: BaseException | None = None
        self._error: BaseException | None = None
        self._paged = Event()
        self._listed = Event()  # the parts are queued, or never will be
        self._stopped = False
        # Parts of split views not taken yet (the first last), each as (view index, part
        # index, check, part); the parts being checked; the parts that failed.
        self._queue: list[tuple[int, int, SplitCheck[S], Part]] = []
        self._running: set[tuple[int, int]] = set()
        self._failed: dict[tuple[int, int], BaseException] = {}
        self._lock = Condition()
        self._thread = Thread(target=self._run, name="affidavit-verify-beside", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._store.check_pages()
        except BaseException as e:  # handed to the caller's thread
            self._damage = e
            self._listed.set()
            return
        finally:
            self._paged.set()
        try:
            try:
                queue = []
                for at, (_, check) in enumerate(self._views):
                    if isinstance(check, SplitCheck):
                        parts = check.parts(self._store)
                        queue += [(at, i, check, p) for i, p in enumerate(parts)]
                with self._lock:
                    self._queue = queue[::-1]
            finally:
                self._listed.set()
            for at, (name, check) in enumerate(self._views):
                if self._stopped:
                    return
                if isinstance(check, SplitCheck):
                    self._share(self._store, at)
                    if self._first_failure() is not None:
                        return  # result() raises it
                    self._done.append((name, check.finish(self._store)))
                else:
                    self._done.append((name, check(self._store)))
        except BaseException as e:
            self._error = e
        finally:
            self._stopped = True  # the caller's thread stops taking parts

    def _share(self, store: S, upto: int) -> None:
        """Check the queued parts of the views up to index ``upto`` on ``store``, then wait
        for those the other thread is checking."""
        while True:
            with self._lock:
                if self._stopped or not self._queue or self._queue[-1][0] > upto:
                    while any(v <= upto for v, _ in self._running):
                        self._lock.wait()
                    return
                at, i, check, part = self._queue.pop()
                if any(key < (at, i) for key in self._failed):
                    continue  # an earlier part failed: this one's failure would not show
                self._running.add((at, i))
            try:
                check.part(store, part)
            except BaseException as e:
                with self._lock:
                    self._failed[(at, i)] = e
            finally:
                with self._lock:
                    self._running.discard((at, i))
                    self._lock.notify_all()

    def _first_failure(self) -> tuple[int, BaseException] | None:
        with self._lock:
            if not self._failed:
                return None
            first = min(self._failed)
            return first[0], self._failed[first]

    def result(self, helper: S | None = None) -> tuple[tuple[str, int], ...]:
        """Wait; raise the damage or the first view failure, else each view's row count.

        ``helper``, the caller's own store on the same snapshot, checks parts of the split
        views meanwhile, so the caller's core works instead of waiting."""
        if helper is not None:
            self._listed.wait()
            self._share(helper, len(self._views))
        self._thread.join()
        if self._damage is not None:
            raise self._damage
        failure = self._first_failure()
        # The worker's own error is from view len(self._done); a part's from its view.
        if failure is not None and (self._error is None or failure[0] < len(self._done)):
            raise failure[1]
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
