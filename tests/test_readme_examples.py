"""Every Python example in the README runs, as written, in a fresh process.

The library examples must also check proofs the way a third party would: against the root
a signed checkpoint carries, opened with the ledger's verifier key, not against a root the
ledger recomputes for them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def examples() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_the_readme_has_python_examples() -> None:
    assert examples(), "the README shows the library; its examples are tested here"


@pytest.mark.parametrize("number", range(len(examples())))
def test_example_runs(number: int, tmp_path: Path) -> None:
    code = examples()[number]
    script = tmp_path / f"example_{number}.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


_PROOF = re.compile(r"merkle\.verify_(?:inclusion|consistency)\(([^)]*)\)")


def proving() -> list[str]:
    """The examples that check a proof (the others state nothing to check)."""
    return [code for code in examples() if _PROOF.search(code)]


def test_the_readme_shows_a_proof_checked() -> None:
    assert proving(), "the README's library example must check a proof"


@pytest.mark.parametrize("number", range(len(proving())))
def test_example_proofs_are_checked_against_a_signed_checkpoint(number: int) -> None:
    code = proving()[number]
    calls = _PROOF.findall(code)
    assert "open_checkpoint(" in code and "Verifier.from_vkey(" in code
    for args in calls:
        root = args.split(",")[-1].strip()
        assert root.endswith(".root"), f"proof checked against {root}, not a checkpoint's root"
        assert "ledger.root(" not in args


def test_an_example_that_trusts_a_forged_checkpoint_would_fail(tmp_path: Path) -> None:
    """The README's way of opening a checkpoint rejects one signed by another key."""
    code = examples()[0]
    forged = code.replace(
        "verifier = Verifier.from_vkey(vkey)",
        "verifier = Verifier.from_vkey(vkey)\n"
        "body, signature = note.split('\\n\\n')\n"
        "note = body + '\\n\\n' + signature[:-10] + 'AAAAAAAA=\\n'  # a signature flipped",
    )
    assert forged != code
    script = tmp_path / "forged.py"
    script.write_text(forged)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "VerificationError" in done.stderr, done.stderr[-1000:]
