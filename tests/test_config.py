"""affidavit.toml: the starter parses, and every bad field is named with its line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from affidavit import config
from affidavit.errors import InputError


def test_the_starter_file_asserts_no_fact() -> None:
    """Left unedited, the starter claims nothing a reviewer could mistake for evidence."""
    c = config.parse(config.STARTER)
    assert (c.org_name, c.plan, c.dpa_signed, c.baa_signed) == (None, None, None, None)
    assert (c.training_opt_out, c.training_opt_out_verified) == (None, None)
    assert (c.dpo_name, c.dpo_signed) == (None, None)
    assert (c.folders, c.connectors, c.connectors_declared) == ((), (), False)
    assert c.documents == {}
    assert (c.incident_name, c.incident_channel) == (None, None)
    assert c.enforce == dict.fromkeys(config.ENFORCEABLE, False)
    assert "intranet.example" not in config.STARTER


def test_the_starter_examples_parse_once_uncommented() -> None:
    """Each commented fact is a working example: uncommenting them gives a valid profile."""
    lines = []
    for line in config.STARTER.splitlines():
        body = line[2:] if line.startswith("# ") else None
        example = body is not None and ("=" in body.split("#")[0] or body.startswith("["))
        if body is not None and example and not body.startswith(("connectors = []", "  ")):
            line = body
        lines.append(line)
    c = config.parse("\n".join(lines))
    assert c.plan == "team" and c.dpa_signed == dt.date(2026, 1, 31)
    assert c.dpo_name and c.incident_name and set(c.documents) == set(config.DOCUMENTS)
    assert c.folders[0].regulated == ("HIPAA",) and c.connectors[0].scopes
    assert c.review_start == dt.date(2026, 1, 1) and c.vendor_facts is not None


@pytest.mark.parametrize(
    ("text", "line", "field", "says"),
    [
        ('[org]\nname = "x"\nplan = "gold"\n', 3, "org.plan", "one of"),
        ("[org]\ndpa_signed = \"March\"\n", 2, "org.dpa_signed", "must be a date"),
        ('[[folders]]\npath = "/a"\nretention_days = 30\n', 3, "folders[0].retention_days", "90"),
        ('[[folders]]\npath = "/a"\nregulated = ["HIPPA"]\n', 3, "folders[0].regulated", "HIPPA"),
        ('[[folders]]\npath = "/a"\nforbidden_data = ["cards"]\n', 3, "forbidden_data", "cards"),
        ("[[folders]]\nfunction = \"hr\"\n", None, "folders[0]", "needs a path"),
        ("[retention]\nminimum_days = 30\n", 2, "retention.minimum_days", "at least 90"),
        ("[retention]\nmaximum_days = 100\nminimum_days = 200\n", 2, "maximum_days", "below"),
        ("[enforce]\noutside_granted = \"yes\"\n", 2, "enforce.outside_granted", "true/false"),
        ("[governance]\ncadence_days = true\n", 2, "governance.cadence_days", "whole number"),
        ("[surprise]\nx = 1\n", None, "surprise", "unknown section"),
        ("[documents]\nhandbook = { ref = \"x\" }\n", None, "documents.handbook", "unknown"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int | None, field: str, says: str
) -> None:
    path = tmp_path / "affidavit.toml"
    with pytest.raises(InputError) as err:
        config.parse(text, path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:" if line else str(path))
    assert field in message and says in message


@pytest.mark.parametrize(
    "text", ["[org\nplan=1", "\x00\x01", "a = = 1", 'x = """', "[org]\nplan = 'a'\nplan = 'b'"]
)
def test_broken_toml_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="not valid TOML"):
        config.parse(text)


def run(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(env_home), "XDG_CONFIG_HOME": str(env_home / "cfg"), "PATH": "/usr/bin"}
    return subprocess.run(
        [sys.executable, "-m", "affidavit", *args], capture_output=True, text=True, env=env
    )


def test_init_writes_a_starter_that_check_accepts_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "a.toml"
    assert run("config", "init", "--out", str(out), env_home=tmp_path).returncode == 0
    assert out.read_text() == config.STARTER
    again = run("config", "init", "--out", str(out), env_home=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr
    ok = run("config", "check", "--config", str(out), "--json", env_home=tmp_path)
    assert ok.returncode == 0 and '"ok": true' in ok.stdout
    text = out.read_text().replace('# plan = "team"', 'plan = "gold"')
    out.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("plan"))) + 1
    bad = run("config", "check", "--config", str(out), env_home=tmp_path)
    assert bad.returncode == 2 and f"{out}:{line}: field org.plan" in bad.stderr


def test_check_without_a_config_says_how_to_make_one(tmp_path: Path) -> None:
    out = run("config", "check", env_home=tmp_path)
    assert out.returncode == 2 and "affidavit config init" in out.stderr
