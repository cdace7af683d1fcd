"""Affidavit: a verifiable audit trail of what AI coworkers did to your files.

The public API. Names load on first use, so that the capture hook, which imports this
package on every tool call, does not pay for cryptography it does not need.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False

# The same as [project] version in pyproject.toml (tests/test_cli_lazy.py checks): read from
# here, the --version option needs no importlib.metadata scan of every installed package.
__version__ = "0.1.0"

__all__ = [
    "AffidavitError",
    "Checkpoint",
    "ConsistencyError",
    "InputError",
    "Kind",
    "Ledger",
    "Record",
    "Signer",
    "VerificationError",
    "Verifier",
    "merkle",
]

_HOMES = {
    "AffidavitError": "affidavit.errors",
    "ConsistencyError": "affidavit.errors",
    "InputError": "affidavit.errors",
    "VerificationError": "affidavit.errors",
    "Checkpoint": "affidavit.note",
    "Signer": "affidavit.note",
    "Verifier": "affidavit.note",
    "Kind": "affidavit.record",
    "Record": "affidavit.record",
    "Ledger": "affidavit.ledger",
}

if TYPE_CHECKING:
    from typing import Any

    from affidavit import merkle
    from affidavit.errors import AffidavitError, ConsistencyError, InputError, VerificationError
    from affidavit.ledger import Ledger
    from affidavit.note import Checkpoint, Signer, Verifier
    from affidavit.record import Kind, Record


def __getattr__(name: str) -> Any:
    if name == "merkle":
        return importlib.import_module("affidavit.merkle")
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'affidavit' has no attribute {name!r}")
