"""The org log served as C2SP ``tlog-tiles``: ``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]`` and
``/tile/entries/<N>[.p/<W>]``.

A tile at level ``L`` holds up to 256 consecutive hashes of the tree's level ``8 * L`` (at
level 0, leaf hashes); the org store already keeps every complete subtree, so a tile is one
indexed range read. An entry bundle holds the leaves (the ``org.entry`` envelopes), each with
a big-endian uint16 length, and each hashes (RFC 9162 leaf hash) to its level-0 tile entry.
Nothing past the latest published checkpoint is served, so every tile a client can fetch is
final: full and partial tiles alike are served as immutable; the checkpoint is not cached.
"""

from __future__ import annotations

import re
import struct

from affidavit.store.postgres import PostgresStore

WIDTH = 256
TILE_CACHE = "private, max-age=31536000, immutable"
CHECKPOINT_CACHE = "no-cache"
_N = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_W = re.compile(r"[1-9][0-9]{0,2}")


class NotFound(Exception):
    """No such tile (malformed, or past the published tree): HTTP 404."""


def parse(path: str) -> tuple[int | None, int, int]:
    """``(level, index, width)`` of ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` (level
    None), width 256 for a full tile; strict, as the spec writes them."""
    head, _, rest = path.partition("/")
    level: int | None
    if head == "entries":
        level = None
    elif _LEVEL.fullmatch(head) and int(head) <= 63:
        level = int(head)
    else:
        raise NotFound(f"tile level {head[:20]!r} is not 0-63")
    width = WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not _W.fullmatch(w) or int(w) > 255:
            raise NotFound(f"partial tile width {w[:20]!r} is not 1-255")
        width = int(w)
    if not _N.fullmatch(rest):
        raise NotFound(f"tile index {rest[:40]!r} is not in x000/000 form")
    return level, int(rest.replace("x", "").replace("/", "")), width


def _available(size: int, level: int, index: int, width: int) -> None:
    # Any width up to what the published tree has: the hashes of a tile never change, so an
    # older, narrower partial tile (for an older checkpoint) is as good as the full one.
    if index * WIDTH + width > size // WIDTH**level:
        raise NotFound(f"tile {level}/{index} width {width} is past the tree size {size}")


def tile(store: PostgresStore, size: int, level: int, index: int, width: int) -> bytes:
    """The hash tile, ``width`` hashes of level ``8 * level`` from ``index * 256``."""
    _available(size, level, index, width)
    start = index * WIDTH
    if level == 0:
        hashes = store.leaf_hashes(start, start + width)
    else:
        rows = store.connection.execute(
            f'SELECT hash FROM "{store.schema}".nodes WHERE level = %s AND idx >= %s '
            "AND idx < %s ORDER BY idx",
            (8 * level, start, start + width),
        ).fetchall()
        hashes = [h for (h,) in rows]
    if len(hashes) != width:
        raise NotFound(f"tile {level}/{index} is not integrated yet")
    return b"".join(hashes)


def entries(store: PostgresStore, size: int, index: int, width: int) -> bytes:
    """The entry bundle: each leaf of the tile with a big-endian uint16 length."""
    _available(size, 0, index, width)
    start = index * WIDTH
    out = bytearray()
    for _, leaf, _, _, _ in store.records(start, start + width):
        out += struct.pack(">H", len(leaf)) + leaf
    return bytes(out)
