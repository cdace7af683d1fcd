"""SHA-256 (FIPS 180-4) for the capture path, without importing ``hashlib`` where it can.

``import hashlib`` costs a hook run about 3 ms of CPU, a fifth of what the thin client spends
beyond the interpreter's own start: it loads OpenSSL and builds a constructor for every
algorithm. CPython's built-in SHA-256 module (``_sha256``, ``_sha2`` from 3.12) hashes a
typical event or file in microseconds; for inputs of :data:`LARGE` bytes or more OpenSSL's is
about four times faster, which pays for the import, so those go through ``hashlib``. Both
compute the same function; only the speed differs. Standard library only.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Hash(Protocol):
        def update(self, data: bytes, /) -> None: ...

        def hexdigest(self) -> str: ...


LARGE = 1 << 20


def _builtin() -> Callable[..., Hash] | None:
    for name in ("_sha2", "_sha256"):  # 3.12+, then 3.11
        try:
            module = __import__(name)
        except ImportError:
            continue
        constructor = getattr(module, "sha256", None)
        if callable(constructor):
            return constructor  # type: ignore[no-any-return]
    return None


_SMALL = _builtin()


def new(size: int = 0) -> Hash:
    """An incremental SHA-256 for about ``size`` bytes."""
    if _SMALL is not None and size < LARGE:
        return _SMALL()
    import hashlib

    return hashlib.sha256()


def sha256_hex(data: bytes) -> str:
    """The lower-case hex SHA-256 of ``data``."""
    digest = new(len(data))
    digest.update(data)
    return digest.hexdigest()
