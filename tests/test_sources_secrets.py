"""Secrets by reference: files (with the private-file check), the environment, the keyring.

The keyring is keyring's own API over an in-memory backend (tests/keyring_helpers.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from affidavit.errors import InputError
from affidavit.sources.secrets import SecretRef, read_secret
from keyring_helpers import memory_keyring

KEY = "sk-ant-api01-test-key"


def _file(tmp_path: Path, body: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "key"
    path.write_bytes(body)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    "body",
    [
        KEY.encode() + b"\n",
        f'{{"api_key": "{KEY}"}}'.encode(),
        f'{{"access_token": "{KEY}"}}'.encode(),
    ],
)
def test_a_private_file_holds_the_bare_secret_or_json(tmp_path: Path, body: bytes) -> None:
    assert read_secret(str(_file(tmp_path, body)), private=True) == KEY


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o666])
def test_a_file_others_can_read_is_refused_when_private(tmp_path: Path, mode: int) -> None:
    path = _file(tmp_path, KEY.encode(), mode)
    with pytest.raises(InputError, match=rf"readable by others .*chmod 600 {path}") as e:
        read_secret(str(path), private=True)
    assert KEY not in str(e.value)
    assert read_secret(str(path)) == KEY  # a cloud token file is not held to it


def test_a_symlink_is_refused_when_private(tmp_path: Path) -> None:
    target = _file(tmp_path, KEY.encode())
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(InputError, match="cannot read the secret file"):
        read_secret(str(link), private=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no secret in it"),
        (b"two words", "no secret in it"),
        (b"{}", "no secret in it"),
        (b'{"api_key": 7}', "no secret in it"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"k" * (65 << 10), "over 65536 bytes"),
        (b"\x1b[31mkey", "no secret in it"),
        ('{"api_key": "key\u2028x"}'.encode(), "no secret in it"),
    ],
)
def test_bad_secret_files_get_one_line_naming_the_file(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = _file(tmp_path, body)
    with pytest.raises(InputError, match=message) as e:
        read_secret(str(path), private=True)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the secret file"):
        read_secret(str(tmp_path / "absent"))
    with pytest.raises(InputError, match="not a regular file"):
        read_secret(str(tmp_path), private=True)


def test_environment_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFIDAVIT_TEST_KEY", KEY)
    assert read_secret("env:AFFIDAVIT_TEST_KEY") == KEY
    monkeypatch.delenv("AFFIDAVIT_TEST_KEY")
    with pytest.raises(InputError, match="environment variable AFFIDAVIT_TEST_KEY: not set"):
        read_secret("env:AFFIDAVIT_TEST_KEY")


def test_keyring_secret() -> None:
    import keyring

    with memory_keyring() as ring:
        keyring.set_password("affidavit-compliance", "acme", KEY)  # as an admin would
        assert ring.secrets == {("affidavit-compliance", "acme"): KEY}
        assert read_secret("keyring:affidavit-compliance:acme") == KEY
        with pytest.raises(InputError, match="keyring entry affidavit-compliance:other: no such"):
            read_secret("keyring:affidavit-compliance:other")


@pytest.mark.parametrize(
    "text", ["keyring:", "keyring:svc", "keyring::user", "env:", "env:A=B", ""]
)
def test_malformed_references(text: str) -> None:
    with pytest.raises(InputError):
        SecretRef.parse(text)


def test_references_round_trip_and_never_describe_the_secret() -> None:
    for text in ("keyring:svc:user", "env:NAME", "/etc/affidavit/key"):
        assert str(SecretRef.parse(text)) == text
    assert SecretRef.parse("keyring:a:b:c").describe() == "the keyring entry a:b:c"
    assert os.sep in SecretRef.parse("/etc/affidavit/key").describe()
