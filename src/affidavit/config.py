"""``affidavit.toml``: the organisation's profile and policies, validated field by field.

Found at ``--config``, ``$AFFIDAVIT_CONFIG``, or ``affidavit.toml`` in the user config folder.
Every error names the file, the line and the field. Dates are TOML dates (``2026-03-01``).
See :data:`STARTER` (``affidavit config init``) for every field with a comment.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affidavit.config_starter import STARTER as STARTER
from affidavit.errors import InputError

PLANS = ("pro", "max", "team", "enterprise")
REGIMES = ("HIPAA", "PCI", "GDPR", "SOX", "FERPA", "GLBA")
DATA_CLASSES = ("card", "ssn", "iban", "nhs", "phi", "email", "phone", "secret")
MIN_RETENTION_DAYS = 90
WORKSPACE = "workspace"  # in capture.keep_read_contents: the session's own folder (its cwd)
KEEP_READ_MAX_BYTES = 2**20
ARCHIVE_EVERY_DAYS = 30
MAX_ARCHIVE_EVERY_DAYS = 31  # the checklist's "archive at least every 31 days"


@dataclass(frozen=True, slots=True)
class DocumentRef:
    ref: str
    reviewed: dt.date | None


@dataclass(frozen=True, slots=True)
class Folder:
    path: str
    function: str | None = None
    regulated: tuple[str, ...] = ()
    forbidden_data: tuple[str, ...] = ()
    retention_days: int | None = None
    legal_hold: bool = False


@dataclass(frozen=True, slots=True)
class Connector:
    name: str
    scopes: tuple[str, ...]
    owner: str | None
    reviewed: dt.date | None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    org_name: str | None = None
    plan: str | None = None
    dpa_signed: dt.date | None = None
    baa_signed: dt.date | None = None
    training_opt_out: bool | None = None
    training_opt_out_verified: dt.date | None = None
    dpo_name: str | None = None
    dpo_signed: dt.date | None = None
    regulated_workspace: bool = False
    folders: tuple[Folder, ...] = ()
    connectors: tuple[Connector, ...] = ()
    connectors_declared: bool = False
    """The file lists its connectors (``connectors = []`` declares that there are none)."""
    documents: dict[str, DocumentRef] = field(default_factory=dict)
    incident_name: str | None = None
    incident_channel: str | None = None
    review_cadence_days: int = 31
    review_start: dt.date | None = None
    """``governance.start``: review months count from here (default: the first live record)."""
    vendor_facts: Path | None = None
    """``vendor.facts_file``: the admin's vendor facts, replacing the shipped ones."""
    minimum_retention_days: int = MIN_RETENTION_DAYS
    maximum_retention_days: int | None = None
    function_retention_days: dict[str, int] = field(default_factory=dict)
    enforce: dict[str, bool] = field(default_factory=dict)
    attestation_days: int = 90
    scan_hmac_key: str | None = None
    # Contents of files the agent only read are kept (for rollback and diffs) only here.
    keep_read_contents: tuple[str, ...] = (WORKSPACE,)
    keep_read_max_bytes: int = KEEP_READ_MAX_BYTES
    # [archive]: where and how often the recorder service archives by itself (None: never).
    archive_to: str | None = None
    archive_every_days: int = ARCHIVE_EVERY_DAYS
    archive_endpoint_url: str | None = None

    @property
    def function_rules(self) -> list[tuple[str, str]]:
        """(folder, function) pairs for the query index."""
        return [(f.path, f.function) for f in self.folders if f.function]


DOCUMENTS = ("acceptable_use", "memory_hygiene", "joiner_mover_leaver")
ENFORCEABLE = ("outside_granted", "regulated_workspace", "forbidden_data")


def default_path() -> Path:
    """platformdirs' user config folder, then ``affidavit/affidavit.toml``.

    Worked out here on Linux and macOS as platformdirs 4 does (``$XDG_CONFIG_HOME`` when
    absolute, else ``~/.config``, or ``~/Library/Application Support`` on macOS), because
    importing platformdirs was a good part of the start-up of every command that reads the
    configuration (``log`` among them); Windows asks platformdirs. tests/test_policy.py
    compares the two, as it does the hook's own copy in capture/policy_config.py.
    """
    if sys.platform == "win32":
        import platformdirs

        return platformdirs.user_config_path("affidavit") / "affidavit.toml"
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not base.startswith("/"):
        home = "~/Library/Application Support" if sys.platform == "darwin" else "~/.config"
        base = os.path.expanduser(home)
    return Path(base, "affidavit", "affidavit.toml")


def find(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    chosen = explicit or os.environ.get("AFFIDAVIT_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise InputError(f"no configuration file at {path}")
        return path
    path = default_path()
    return path if path.is_file() else None


def load(explicit: str | os.PathLike[str] | None = None) -> Config:
    """The configuration in force, or an empty one (every check then says what is missing)."""
    path = find(explicit)
    return Config() if path is None else read(path)


def read(path: Path) -> Config:
    """Parse the file at ``path``; InputError naming it (and the line) if it is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason})") from e
    return parse(text, path)


class _Reader:
    """Typed access to a TOML table that names file, line and field in every error."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.lines = text.splitlines()
        self.path = path

    def line_of(self, dotted: str) -> int | None:
        key = dotted.split(".")[-1].split("[")[0]
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def fail(self, dotted: str, message: str) -> InputError:
        line = self.line_of(dotted)
        where = f"{self.path or '<config>'}" + (f":{line}" if line else "")
        return InputError(f"{where}: field {dotted}: {message}")

    def get(
        self,
        table: dict[str, Any],
        key: str,
        dotted: str,
        kind: type | tuple[type, ...],
        default: Any = None,
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) and kind in (int, (int,)):
            raise self.fail(dotted, "must be a whole number, not true/false")
        if not isinstance(value, kind):
            name = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(dotted, f"must be a {name}, not {type(value).__name__}")
        return value

    def date(self, table: dict[str, Any], key: str, dotted: str) -> dt.date | None:
        value = self.get(table, key, dotted, (dt.date,))
        if isinstance(value, dt.datetime):
            return value.date()
        return value  # type: ignore[no-any-return]

    def strings(self, table: dict[str, Any], key: str, dotted: str) -> tuple[str, ...]:
        value = self.get(table, key, dotted, list, [])
        if not all(isinstance(v, str) for v in value):
            raise self.fail(dotted, "must be a list of strings")
        return tuple(value)

    def table(self, table: dict[str, Any], key: str, dotted: str) -> dict[str, Any]:
        value: dict[str, Any] = self.get(table, key, dotted, dict, {})
        return value


def parse(text: str, path: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path or '<config>'}: not valid TOML: {e}") from e
    except RecursionError as e:
        raise InputError(f"{path or '<config>'}: not valid TOML: it nests too deeply") from e
    r = _Reader(text, path)
    known = {
        "org",
        "workspace",
        "folders",
        "connectors",
        "documents",
        "incident_response",
        "governance",
        "retention",
        "enforce",
        "attestations",
        "scan",
        "vendor",
        "capture",
        "archive",
    }
    for key in data:
        if key not in known:
            raise r.fail(key, f"unknown section; expected one of {', '.join(sorted(known))}")
    org = r.table(data, "org", "org")
    plan = r.get(org, "plan", "org.plan", str)
    if plan is not None and plan not in PLANS:
        raise r.fail("org.plan", f"must be one of {', '.join(PLANS)}")
    dpo = r.table(org, "dpo_signoff", "org.dpo_signoff")
    folders = []
    for i, item in enumerate(r.get(data, "folders", "folders", list, [])):
        where = f"folders[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise r.fail(where, "each [[folders]] needs a path")
        regulated = r.strings(item, "regulated", f"{where}.regulated")
        for regime in regulated:
            if regime not in REGIMES:
                raise r.fail(f"{where}.regulated", f"{regime!r} is not one of {', '.join(REGIMES)}")
        forbidden = r.strings(item, "forbidden_data", f"{where}.forbidden_data")
        for data_class in forbidden:
            if data_class not in DATA_CLASSES:
                raise r.fail(
                    f"{where}.forbidden_data",
                    f"{data_class!r} is not one of {', '.join(DATA_CLASSES)}",
                )
        days = r.get(item, "retention_days", f"{where}.retention_days", int)
        if days is not None and days < MIN_RETENTION_DAYS:
            raise r.fail(f"{where}.retention_days", f"must be at least {MIN_RETENTION_DAYS}")
        folders.append(
            Folder(
                item["path"],
                r.get(item, "function", f"{where}.function", str),
                regulated,
                forbidden,
                days,
                bool(r.get(item, "legal_hold", f"{where}.legal_hold", bool, False)),
            )
        )
    connectors = []
    for i, item in enumerate(r.get(data, "connectors", "connectors", list, [])):
        where = f"connectors[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise r.fail(where, "each [[connectors]] needs a name")
        connectors.append(
            Connector(
                item["name"],
                r.strings(item, "scopes", f"{where}.scopes"),
                r.get(item, "owner", f"{where}.owner", str),
                r.date(item, "reviewed", f"{where}.reviewed"),
            )
        )
    docs_table = r.table(data, "documents", "documents")
    documents = {}
    for name, value in docs_table.items():
        if name not in DOCUMENTS:
            raise r.fail(f"documents.{name}", f"unknown document; expected {', '.join(DOCUMENTS)}")
        if not isinstance(value, dict) or not isinstance(value.get("ref"), str):
            raise r.fail(f"documents.{name}", 'needs ref = "where the document lives"')
        documents[name] = DocumentRef(value["ref"], r.date(value, "reviewed", f"documents.{name}"))
    incident = r.table(data, "incident_response", "incident_response")
    governance = r.table(data, "governance", "governance")
    retention = r.table(data, "retention", "retention")
    minimum = r.get(retention, "minimum_days", "retention.minimum_days", int, MIN_RETENTION_DAYS)
    if minimum < MIN_RETENTION_DAYS:
        raise r.fail("retention.minimum_days", f"must be at least {MIN_RETENTION_DAYS}")
    maximum = r.get(retention, "maximum_days", "retention.maximum_days", int)
    if maximum is not None and maximum < minimum:
        raise r.fail("retention.maximum_days", "must not be below minimum_days")
    functions = r.table(retention, "functions", "retention.functions")
    for name, days in functions.items():
        if isinstance(days, bool) or not isinstance(days, int) or days < minimum:
            raise r.fail(f"retention.functions.{name}", f"must be a number of days >= {minimum}")
    enforce_table = r.table(data, "enforce", "enforce")
    enforce = {}
    for name, value in enforce_table.items():
        if name not in ENFORCEABLE or not isinstance(value, bool):
            raise r.fail(
                f"enforce.{name}", f"enforce takes true/false for {', '.join(ENFORCEABLE)}"
            )
        enforce[name] = value
    capture = r.table(data, "capture", "capture")
    keep_reads = r.strings(capture, "keep_read_contents", "capture.keep_read_contents")
    if "keep_read_contents" not in capture:
        keep_reads = (WORKSPACE,)
    keep_max = r.get(
        capture, "keep_read_max_bytes", "capture.keep_read_max_bytes", int, KEEP_READ_MAX_BYTES
    )
    if keep_max < 0:
        raise r.fail("capture.keep_read_max_bytes", "must be a number of bytes, 0 or more")
    cadence = r.get(governance, "cadence_days", "governance.cadence_days", int, 31)
    if cadence < 1:
        raise r.fail("governance.cadence_days", "must be a positive number of days")
    facts_file = r.get(r.table(data, "vendor", "vendor"), "facts_file", "vendor.facts_file", str)
    vendor_facts = None
    if facts_file is not None:
        # Relative to the configuration file, so the pair can move together.
        vendor_facts = Path(facts_file).expanduser()
        if not vendor_facts.is_absolute() and path is not None:
            vendor_facts = path.parent / vendor_facts
    archive_to, archive_every, archive_endpoint = _archive(r, r.table(data, "archive", "archive"))
    if archive_to is not None and not archive_to.startswith("s3://"):
        folder = Path(archive_to).expanduser()  # relative to the file, like vendor.facts_file
        archive_to = str(folder if folder.is_absolute() or path is None else path.parent / folder)
    return Config(
        path=path,
        org_name=r.get(org, "name", "org.name", str),
        plan=plan,
        dpa_signed=r.date(org, "dpa_signed", "org.dpa_signed"),
        baa_signed=r.date(org, "baa_signed", "org.baa_signed"),
        training_opt_out=r.get(org, "training_opt_out", "org.training_opt_out", bool),
        training_opt_out_verified=r.date(
            org, "training_opt_out_verified", "org.training_opt_out_verified"
        ),
        dpo_name=r.get(dpo, "name", "org.dpo_signoff.name", str),
        dpo_signed=r.date(dpo, "date", "org.dpo_signoff.date"),
        regulated_workspace=bool(
            r.get(
                r.table(data, "workspace", "workspace"),
                "regulated",
                "workspace.regulated",
                bool,
                False,
            )
        ),
        folders=tuple(folders),
        connectors=tuple(connectors),
        connectors_declared="connectors" in data,
        documents=documents,
        incident_name=r.get(incident, "name", "incident_response.name", str),
        incident_channel=r.get(incident, "channel", "incident_response.channel", str),
        review_cadence_days=cadence,
        review_start=r.date(governance, "start", "governance.start"),
        vendor_facts=vendor_facts,
        minimum_retention_days=minimum,
        maximum_retention_days=maximum,
        function_retention_days=dict(functions),
        enforce=enforce,
        attestation_days=r.get(
            r.table(data, "attestations", "attestations"),
            "expiry_days",
            "attestations.expiry_days",
            int,
            90,
        ),
        scan_hmac_key=r.get(r.table(data, "scan", "scan"), "hmac_key", "scan.hmac_key", str),
        keep_read_contents=keep_reads,
        keep_read_max_bytes=keep_max,
        archive_to=archive_to,
        archive_every_days=archive_every,
        archive_endpoint_url=archive_endpoint,
    )


def _archive(r: _Reader, table: dict[str, Any]) -> tuple[str | None, int, str | None]:
    """``[archive]``: ``to`` (a folder or s3://bucket/prefix), ``every_days``, ``endpoint_url``."""
    for key in table:
        if key not in ("to", "every_days", "endpoint_url"):
            raise r.fail(f"archive.{key}", "unknown field; expected to, every_days, endpoint_url")
    to = r.get(table, "to", "archive.to", str)
    if to is not None and (not to.strip() or "\0" in to):
        raise r.fail("archive.to", "must name a folder or s3://bucket/prefix")
    if (
        to is not None
        and to.startswith("s3://")
        and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", to)
    ):
        raise r.fail("archive.to", f"{to!r} is not s3://bucket/prefix with an S3 bucket name")
    every = r.get(table, "every_days", "archive.every_days", int, ARCHIVE_EVERY_DAYS)
    if not 1 <= every <= MAX_ARCHIVE_EVERY_DAYS:
        raise r.fail("archive.every_days", f"must be 1 to {MAX_ARCHIVE_EVERY_DAYS} days")
    endpoint = r.get(table, "endpoint_url", "archive.endpoint_url", str)
    if endpoint is not None and not (to or "").startswith("s3://"):
        raise r.fail("archive.endpoint_url", "only for an s3:// archive.to")
    if to is None and table:
        raise r.fail("archive", "needs to = a folder or s3://bucket/prefix")
    return to, every, endpoint
