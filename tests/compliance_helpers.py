"""What the compliance, report and no-false-greens tests share: the fixed day they judge on,
the real hook session they replay, and the month's sign-off a complete deployment records."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from affidavit import config
from affidavit.compliance import review as reviewing
from affidavit.config import Config
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner
from conftest import ASSETS, shared_path
from ledger_helpers import ORIGIN, cli_env, key_of

TODAY = date(2026, 11, 26)
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC)
CONFIGS = ASSETS / "config"
HOOKS = (
    "session_start",
    "user_prompt_submit",
    "pre_tool_use_read",
    "post_tool_use_read",
    "pre_tool_use_write",
    "post_tool_use_write",
    "pre_tool_use_edit",
    "post_tool_use_edit",
    "pre_tool_use_bash",
    "post_tool_use_bash",
    "post_tool_use_failure_bash",
    "pre_tool_use_agent",
    "post_tool_use_agent",
    "subagent_stop",
    "stop",
    "session_end",
)


def profile(name: str) -> Config:
    return config.load(CONFIGS / f"{name}.toml")


def replay_hooks(folder: Path, names: tuple[str, ...] = HOOKS) -> Path:
    """A new ledger in ``folder`` holding the real RonKat2008 hook payloads ``names``,
    recorded by one ``affidavit hook`` process per event, in order."""
    hooks = shared_path("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
    path = folder / "ledger.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=key_of(path)).close()
    for name in names:
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", "hook", "--ledger", str(path)],
            input=(hooks / f"{name}.json").read_bytes(),
            capture_output=True,
            env=cli_env(folder / "home"),
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, b""), done.stderr
    return path


def sign_off_month(ledger: Ledger, signer: NoteSigner) -> None:
    """This month's governance review of the enterprise profile, signed two days ago."""
    cfg = profile("enterprise")
    report = reviewing.build_report(ledger, cfg, reviewing.Period.of(TODAY), TODAY)
    reviewing.sign_off(
        ledger,
        signer,
        report,
        attendees=["Ann CISO", "Bob IT"],
        decisions=["keep FedRAMP workloads off the agents"],
        now=NOON - timedelta(days=2),
    )
