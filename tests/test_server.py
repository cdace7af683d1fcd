"""The collector's server: init, keys, tokens and authentication, against a real uvicorn on
loopback and the real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from affidavit.cosignature import Cosigner
from affidavit.note import Verifier
from collector_helpers import ORIGIN, Collector
from ledger_helpers import cli_env
from pg_helpers import Schemas


def test_init_makes_two_keys_that_server_key_prints(pg_schemas: Schemas, tmp_path: Path) -> None:
    c = Collector(pg_schemas, tmp_path)
    made = c.cli("init", "--origin", ORIGIN).stdout.splitlines()
    witness, org = made
    assert Cosigner.from_vkey(witness).name == ORIGIN + "/witness"
    assert Verifier.from_vkey(org).name == ORIGIN
    assert c.cli("key").stdout.splitlines() == made
    for name in ("org.key", "witness.key"):
        assert (c.keys / name).stat().st_mode & 0o777 == 0o600
    # Neither private key is in the database: a stolen copy of it cannot sign.
    secrets = [(c.keys / n).read_text().strip() for n in ("org.key", "witness.key")]
    dump = str(c.sql("SELECT * FROM config"))
    # PRIVATE+KEY+<name>+<key id>+<key>: the key's base64 may itself hold "+".
    keys = [s.split("+", 4)[4] for s in secrets]
    assert all(len(k) > 40 for k in keys)
    assert not any(k in dump for k in keys)
    again = c.cli("init", "--origin", ORIGIN, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_tokens_are_shown_once_stored_hashed_and_checked(collector: Collector) -> None:
    device = collector.token("device", "laptop-1")
    assert device.startswith("afv_")
    ((stored,),) = collector.sql("SELECT hash FROM tokens WHERE name = 'laptop-1'")
    assert stored.startswith("$argon2id$") and device.split("_")[-1] not in stored
    ok = collector.get("/api/v1/whoami", device)
    assert ok.status_code == 200 and ok.json() == {"name": "laptop-1", "role": "device"}
    ((last_used,),) = collector.sql("SELECT last_used FROM tokens WHERE name = 'laptop-1'")
    assert last_used is not None
    wrong = device[:-4] + ("AAAA" if not device.endswith("AAAA") else "BBBB")
    for token in (None, "afv_1_short", wrong, "afv_999_" + "x" * 43):
        refused = collector.get("/api/v1/whoami", token)
        assert refused.status_code == 401, token
        assert refused.json()["error"]


def test_a_revoked_token_is_refused_from_the_next_request(collector: Collector) -> None:
    token = collector.token("auditor", "j.smith")
    assert collector.get("/api/v1/whoami", token).status_code == 200
    collector.cli("token", "revoke", "j.smith")
    refused = collector.get("/api/v1/whoami", token)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    listed = collector.cli("token", "list").stdout
    assert "j.smith\tauditor" in listed and "REVOKED" in listed and token not in listed


def test_roles_limit_what_a_token_may_do(collector: Collector) -> None:
    auditor = collector.token("auditor", "reader")
    device = collector.token("device", "laptop-2")
    assert collector.post("/api/v1/ship", auditor, {}).status_code == 403
    assert collector.post("/api/v1/enrol", auditor, {}).status_code == 403
    assert collector.post("/api/v1/seal", device, {}).status_code == 403
    admin = collector.token("admin", "root-of-trust")
    assert collector.post("/api/v1/seal", admin, {}).status_code == 200


def test_tokens_never_reach_the_server_log(collector: Collector) -> None:
    token = collector.token("device", "laptop-3")
    collector.get("/api/v1/whoami", token)
    collector.get("/api/v1/whoami", token[:-3] + "zzz")
    collector.post("/api/v1/ship", token, b"not json")
    collector.stop()
    log = collector.log.read_text()
    assert "GET /api/v1/whoami" in log  # the access log is on...
    assert token not in log and token[:-3] not in log  # ...and holds no token, good or bad


def test_malformed_bodies_are_4xx_with_a_reason(collector: Collector) -> None:
    device = collector.token("device", "laptop-4")
    for body, status in ((b"{", 400), (b"[]", 422), ({"origin": 1}, 422)):
        answer = collector.post("/api/v1/enrol", device, body)
        assert answer.status_code == status and answer.json()["error"]


def test_a_missing_server_extra_is_named(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from affidavit.cli import main\n"
        "main(['server', '--db', 'postgresql://127.0.0.1:1/x'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(tmp_path)
    )
    assert result.returncode == 2
    assert "affidavit[server]" in result.stderr and "uvicorn" in result.stderr
