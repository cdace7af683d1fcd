"""Real processes and real accounts for the recorder service tests.

The service runs as one account (it alone can read the ledger and the key), the hooks as
another (the agent's). Accounts are made with ``useradd``, so these tests need root, as CI
has: elsewhere they skip, saying so, and under ``CI=true`` they fail instead of skipping.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def _reachable(path: str | Path) -> bool:
    """Whether another account can reach ``path``: every folder above it enterable."""
    return all(os.stat(p).st_mode & 0o001 for p in Path(path).resolve().parents)


_NEEDED = """
import sys
import affidavit.cli as cli
for name in cli.COMMAND_MODULES:
    __import__(name)
import affidavit.service.server, affidavit.capture.hook, affidavit.capture.client
# What the commands import only when they run: the runtime dependencies in pyproject.toml.
import click, platformdirs, rfc8785, typing_extensions
import rich.console, rich.markdown, rich.progress, rich.syntax, rich.table
from cryptography.hazmat.primitives.asymmetric import ed25519
files = {str(getattr(m, "__file__", None) or "") for m in list(sys.modules.values())}
print("\\n".join(sorted(files)))
"""


def _mirror(site_packages: list[str]) -> list[str]:
    """A copy, in a folder every account can enter, of this checkout's package and of the
    installed packages the service and the CLI import: for a checkout under a folder only
    root can enter (a fresh clone in a mktemp folder, mode 0700). Removed at exit."""
    import atexit
    import tempfile

    files = subprocess.run(
        [sys.executable, "-c", _NEEDED], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    mirror = Path(tempfile.mkdtemp(prefix="affidavit-accounts-"))
    mirror.chmod(0o755)
    atexit.register(shutil.rmtree, mirror, True)
    shutil.copytree(SRC / "affidavit", mirror / "src" / "affidavit", dirs_exist_ok=True)
    out = mirror / "site"
    out.mkdir()
    wanted: set[str] = set()
    for file in files:
        for site in site_packages:
            if file.startswith(site + os.sep):
                wanted.add(file[len(site) + 1 :].split(os.sep)[0])
    for site in site_packages:
        for entry in Path(site).iterdir():
            stem = entry.name.split(".")[0]
            if entry.name in wanted or (entry.name.endswith(".libs") and stem in wanted):
                if entry.is_dir():
                    shutil.copytree(entry, out / entry.name, dirs_exist_ok=True)
                else:
                    shutil.copy2(entry, out / entry.name)
    for folder in (mirror, mirror / "src", out):
        folder.chmod(0o755)
    return [str(mirror / "src"), str(out)]


def _account_python() -> tuple[str, dict[str, str]]:
    """An interpreter the test accounts can run, with this checkout's packages on its path.

    The test's own interpreter may live under a folder only root can enter (a pyenv under
    /root): then the same Python version from a system folder, given the venv's
    site-packages, runs the same code. A checkout the accounts cannot enter is mirrored.
    """
    real = os.path.realpath(sys.executable)
    sites = [p for p in sys.path if p.endswith("site-packages")]
    path = [str(SRC), *sites]
    if os.geteuid() == 0 and not all(_reachable(p) for p in [SRC, *sites]):
        path = _mirror(sites)
    extra = {"PYTHONPATH": os.pathsep.join(path)}
    parts = Path(real).parents
    if all(os.stat(p).st_mode & 0o001 for p in parts):
        return sys.executable, extra
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate, extra
    return "", extra


PYTHON, PYTHON_ENV = _account_python()
SERVICE_USER = "afftest-svc"
AGENT_USER = "afftest-agent"


def need_root() -> None:
    if os.geteuid() == 0 and shutil.which("useradd") and PYTHON:
        return
    message = (
        "needs root and useradd to create the service and agent test accounts, and a "
        f"python{sys.version_info.major}.{sys.version_info.minor} those accounts can run"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI=true runs as root")
    pytest.skip(message)


def ensure_account(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


@dataclass
class Account:
    name: str
    uid: int
    gid: int

    @classmethod
    def make(cls, name: str) -> Account:
        entry = ensure_account(name)
        return cls(name, entry.pw_uid, entry.pw_gid)

    @property
    def group(self) -> str:
        return grp.getgrgid(self.gid).gr_name


@dataclass
class Site:
    """One machine's layout: the service's private folder, the socket folder, an agent."""

    root: Path
    service: Account
    agent: Account

    @property
    def ledger(self) -> Path:
        return self.root / "svc" / "ledger.sqlite"

    @property
    def key(self) -> Path:
        return self.root / "svc" / "signing.key"

    @property
    def socket(self) -> Path:
        return self.root / "run" / "recorder.sock"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def spool(self) -> Path:
        return self.home / "spool"

    @property
    def workspace(self) -> Path:
        return self.home / "work"

    def agent_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
        env.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / "data"),
            XDG_CONFIG_HOME=str(self.home / "config"),
            AFFIDAVIT_SPOOL=str(self.spool),
            USER=self.agent.name,
            **PYTHON_ENV,
        )
        env.pop("CLAUDE_CONFIG_DIR", None)
        return env

    def as_agent(self, args: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            args,
            user=self.agent.uid,
            group=self.agent.gid,
            extra_groups=[],
            env=self.agent_env(),
            capture_output=True,
            timeout=60,
            **kw,
        )

    def as_agent_popen(self, args: list[str]) -> subprocess.Popen[bytes]:
        """A process of the agent's account, its stdin a pipe, its output discarded."""
        return subprocess.Popen(
            args,
            user=self.agent.uid,
            group=self.agent.gid,
            extra_groups=[],
            env=self.agent_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def cli_as_agent(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        base = [PYTHON, "-m", "affidavit", "--ledger", str(self.ledger)]
        return self.as_agent([*base, "--key-file", str(self.key), *args], input=stdin)

    def hook_command(self) -> list[str]:
        return [
            PYTHON, "-m", "affidavit", "hook",
            "--ledger", str(self.ledger), "--socket", str(self.socket),
        ]  # fmt: skip

    def hook(self, event: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
        return self.as_agent(self.hook_command(), input=json.dumps(event).encode())

    def start_service(self, *, seal_interval: float = 0.5) -> subprocess.Popen[bytes]:
        """The service as its own account, able to hand the socket to the agent's group."""
        if self.socket.exists():
            pass  # a killed service's socket: the new one replaces it
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "affidavit",
                "--ledger",
                str(self.ledger),
                "--key-file",
                str(self.key),
                "service",
                "--socket",
                str(self.socket),
                "--group",
                self.agent.group,
                "--seal-interval",
                str(seal_interval),
            ],
            user=self.service.uid,
            group=self.service.gid,
            extra_groups=[self.agent.gid],
            env={**self.agent_env(), "HOME": str(self.root / "svc"), "USER": self.service.name},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_listening(self.socket, proc)
        return proc

    def read(self) -> sqlite3.Connection:
        """The ledger, read as root (the test's own view, not the agent's)."""
        return sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True)

    def records(self) -> list[tuple[int, str, dict[str, Any]]]:
        with self.read() as conn:
            rows = conn.execute("SELECT seq, leaf, payload FROM records ORDER BY seq").fetchall()
        out = []
        for seq, leaf, payload in rows:
            envelope = json.loads(leaf)
            out.append((seq, envelope["source"], json.loads(payload) if payload else {}))
        return out


def wait_listening(path: Path, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    """Until a connection to ``path`` succeeds (a bounded wait, not a timing assert)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()  # else the pipe is collected later, in another test
            raise AssertionError(f"the service exited with {proc.returncode}: {err}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the service never listened on {path}")


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Stop the service (SIGTERM: it seals and exits); its stderr."""
    if proc.stderr is None or proc.stderr.closed:
        return ""
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode()


def make_site() -> Iterator[Site]:
    need_root()
    service, agent = Account.make(SERVICE_USER), Account.make(AGENT_USER)
    # Not under pytest's tmp_path: that is 0700 root, and both accounts must reach in.
    root = Path(tempfile.mkdtemp(prefix="affidavit-service-"))
    root.chmod(0o755)
    site = Site(root, service, agent)
    svc = root / "svc"
    svc.mkdir(mode=0o700)
    init = ["--key-file", str(site.key), "init", "--origin", "affidavit/test/service"]
    subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(site.ledger), *init],
        check=True,
        capture_output=True,
    )
    for path in (svc, *svc.iterdir()):
        os.chown(path, service.uid, service.gid)
    run = root / "run"
    run.mkdir()
    os.chown(run, service.uid, agent.gid)
    run.chmod(0o770)
    for folder in (site.home, site.workspace):
        folder.mkdir()
        os.chown(folder, agent.uid, agent.gid)
    try:
        yield site
    finally:
        shutil.rmtree(root, ignore_errors=True)


def frame(message: dict[str, Any] | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def write_event(path: Path, use_id: str, text: str) -> dict[str, Any]:
    return {
        "session_id": "s-1",
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_use_id": use_id,
        "cwd": str(path.parent),
        "tool_input": {"file_path": str(path), "content": text},
        "tool_response": {"type": "create", "filePath": str(path)},
    }
