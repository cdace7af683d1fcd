"""The console's test organisation: a real collector (uvicorn, PostgreSQL) that two laptops
shipped records to, including hostile text, an edit with its change, and a policy finding;
and a signed-in HTTP client that carries the session cookie and CSRF token like a browser."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx

from affidavit import shipping
from affidavit.record import Kind, Record
from collector_helpers import Collector
from ledger_helpers import T0, new_ledger

HOSTILE = '<script>alert("owned")</script>'
HOSTILE_PATH = f"docs/{HOSTILE}.md"


def _file(
    kind: Kind, user: str, path: str, hours: int, tool: str, given: dict[str, object]
) -> Record:
    return Record.create(
        kind,
        "claude-code",
        {
            "actor": {"user": user, "email": f"{user}@example.com"},
            "agent": {"product": "claude-code", "session_id": f"s-{user}", "tool": tool},
            "file": {"path": path, "before_sha256": "ab" * 32, "after_sha256": "cd" * 32},
            "tool": {"name": tool, "input": {"file_path": path, **given}},
        },
        time=T0 + timedelta(hours=hours),
    )


def laptop_records(n: int) -> list[Record]:
    user = ("alice", "bob")[n]
    out = [
        _file(
            Kind.FILE_UPDATE,
            user,
            "finance/q1.xlsx",
            1 + n,
            "Edit",
            {"old_string": "total = 100\nowner = a", "new_string": "total = 250\nowner = a"},
        ),
        _file(
            Kind.FILE_CREATE,
            user,
            f"finance/notes-{user}.md",
            2 + n,
            "Write",
            {"content": "# notes\n"},
        ),
        _file(
            Kind.FILE_UPDATE,
            user,
            "hr/staff.csv",
            3 + n,
            "Edit",
            {"old_string": "x", "new_string": "y"},
        ),
        Record.create(
            Kind.COMMAND_EXEC,
            "claude-code",
            {
                "actor": {"user": user},
                "agent": {"session_id": f"s-{user}", "tool": "Bash"},
                "command": {"text": "ls finance"},
            },
            time=T0 + timedelta(hours=4 + n),
        ),
    ]
    if n == 0:
        out.append(_file(Kind.FILE_CREATE, user, HOSTILE_PATH, 5, "Write", {"content": HOSTILE}))
        out.append(
            Record.create(
                Kind.POLICY_FINDING,
                "affidavit",
                {
                    "actor": {"user": user},
                    "finding": {
                        "id": "f-hr-1",
                        "type": "policy",
                        "rule": "deny",
                        "path": "hr/staff.csv",
                        "detail": "the agent wrote to a denied folder",
                    },
                },
                time=T0 + timedelta(hours=6),
            )
        )
    return out


def seed(c: Collector, home: Path) -> None:
    """Two laptops enrol and ship; the org log is sealed."""
    for n in range(2):
        folder = home / f"laptop-{n}"
        folder.mkdir()
        device = c.token("device", f"laptop-{n}")
        with new_ledger(folder, origin=f"laptop.example.com/{n}") as ledger:
            ledger.append(laptop_records(n))
            ledger.seal()
            shipping.enrol(ledger, folder / "ledger.sqlite", c.url, device)
            shipping.ship(ledger, folder / "ledger.sqlite", device)
    c.cli("seal")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Client:
    """An HTTP client with a cookie jar that signs in with a collector token."""

    def __init__(self, c: Collector) -> None:
        self.http = httpx.Client(base_url=c.url, timeout=30, follow_redirects=False)

    def csrf(self, page: str = "/console/signin") -> str:
        found = _CSRF.search(self.http.get(page).text)
        assert found, f"no CSRF field on {page}"
        return found[1]

    def sign_in(self, token: str) -> httpx.Response:
        token_csrf = self.csrf()
        return self.http.post("/console/signin", data={"csrf": token_csrf, "token": token})
