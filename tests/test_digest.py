"""affidavit.capture.digest computes SHA-256 (FIPS 180-4) on both sides of its size switch."""

from __future__ import annotations

import hashlib
import os

import pytest

from affidavit.capture import digest


@pytest.mark.parametrize(
    "size", [0, 1, 55, 56, 64, digest.LARGE - 1, digest.LARGE, digest.LARGE + 1]
)
def test_same_hash_as_hashlib(size: int) -> None:
    data = os.urandom(size)
    assert digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()
    incremental = digest.new(size)
    for start in range(0, size, 4096):
        incremental.update(data[start : start + 4096])
    assert incremental.hexdigest() == hashlib.sha256(data).hexdigest()


def test_known_vector() -> None:
    # FIPS 180-4 example "abc" (NIST CSRC, SHA256.pdf)
    assert digest.sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_the_hook_never_imports_hashlib_for_a_small_input() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from affidavit.capture import digest; digest.sha256_hex(b'x');"
        "print('hashlib' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
