"""CPU time of a server's process tree and of the PostgreSQL backends serving it, read from
Linux's /proc, for the benchmarks that print CPU per record beside their rates (the rates move
with the host's load far more than the CPU does)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(stat[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo.extend(parents.get(out[-1], []))
    return out


def backends(db: str, pids: list[int]) -> list[int]:
    """The PostgreSQL backends serving the connections that processes ``pids`` hold open:
    their sockets' local ports, matched to ``pg_stat_activity.client_port``."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes.update(link[8:-1] for link in links if link.startswith("socket:["))
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    with psycopg.connect(db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and every process now under it."""
    return sum(cpu_seconds(p) for p in tree(pid))
