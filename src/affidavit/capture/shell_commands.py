"""How each shell command names the files it will delete, move over or rewrite.

The readers of :mod:`affidavit.capture.shell_targets`, one per command (GNU and BSD option
spellings): each takes the words after the command name and adds to a
:class:`~affidavit.capture.shell_targets.Targets` what the command will change, or why that
cannot be known. Pure standard library: this runs in the hook.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable

from affidavit.capture import shell_targets
from affidavit.capture.shell_targets import (
    DESTRUCTIVE,
    Targets,
    expand,
    operand,
    short,
    split_args,
    walk,
)

Reader = Callable[[Targets, "str | None", list[str]], None]

_FIND_DEPTH = frozenset({"-maxdepth", "-mindepth"})
_FIND_SIMPLE = frozenset({"-name", "-iname", "-path", "-wholename", "-type"})
_GIT_UNNAMED = frozenset(
    {"reset", "clean", "stash", "switch", "pull", "merge", "rebase", "apply", "am", "revert"}
)


def _rm(out: Targets, here: str | None, args: list[str]) -> None:
    operands, options = split_args(args, frozenset({"-n", "-s", "-u", "--iterations"}))
    recursive = any(k in options for k in ("-r", "-R", "--recursive"))
    for word in operands:
        operand(out, here, word, recursive=recursive)


def _plain_files(out: Targets, here: str | None, args: list[str], with_value: set[str]) -> None:
    operands, _ = split_args(args, frozenset(with_value))
    for word in operands:
        operand(out, here, word, recursive=False)


def _move_or_copy(out: Targets, here: str | None, args: list[str], *, move: bool) -> None:
    with_value = frozenset({"-t", "--target-directory", "-S", "--suffix"})
    operands, options = split_args(args, with_value)
    if not move and ("-n" in options or "--no-clobber" in options):
        return
    folder = options.get("-t") or options.get("--target-directory") or ""
    dest = ""
    if not folder:
        if len(operands) < 2:
            return
        *operands, dest = operands
    recursive = not move and any(k in options for k in ("-r", "-R", "-a", "--recursive"))
    dests = expand(out, here, folder or dest) or []
    for word in operands:
        for source in expand(out, here, word) or ():
            if move and not out.isdir(source):
                out.add(source)  # gone from its name: its bytes are the delete's pre-image
            for target in dests:
                into = bool(folder) or (out.isdir(target) and "-T" not in options)
                landing = os.path.join(target, os.path.basename(source)) if into else target
                if recursive and out.isdir(source):
                    for file in walk(out, source):
                        out.add(os.path.join(landing, os.path.relpath(file, source)))
                else:
                    out.add(landing)


def _mv(out: Targets, here: str | None, args: list[str]) -> None:
    _move_or_copy(out, here, args, move=True)


def _cp(out: Targets, here: str | None, args: list[str]) -> None:
    _move_or_copy(out, here, args, move=False)


def _sed(out: Targets, here: str | None, args: list[str]) -> None:
    _in_place(out, here, args, values="efl", scripts="ef", attached="")


def _perl(out: Targets, here: str | None, args: list[str]) -> None:
    _in_place(out, here, args, values="eE", scripts="eE", attached="IMml0xCdD")


def _in_place(
    out: Targets, here: str | None, args: list[str], *, values: str, scripts: str, attached: str
) -> None:
    """Files of ``sed -i`` / ``perl -i``: the operands after the script.

    ``values``: short flags whose value may be the next word; ``scripts``: those giving the
    script (then no operand is the script); ``attached``: flags whose value is the rest of
    the word. After ``i`` the rest of the word is the backup suffix.
    """
    in_place = scripted = False
    operands: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "--":
            operands += list(it)
            break
        if arg.startswith("--"):
            key, eq, _ = arg.partition("=")
            if key == "--in-place":
                in_place = True
            elif key in ("--expression", "--file"):
                scripted = True
                if not eq:
                    next(it, None)
        elif arg.startswith("-") and len(arg) > 1:
            for i, flag in enumerate(arg[1:], start=1):
                if flag == "i":
                    in_place = True
                    break
                if flag in values:
                    scripted = scripted or flag in scripts
                    if i == len(arg) - 1:
                        next(it, None)
                    break
                if flag in attached:
                    break
        else:
            operands.append(arg)
    if not in_place:
        return
    if operands[:1] == [""]:
        operands = operands[1:]  # BSD sed's `-i ''`: no backup suffix
    for word in operands if scripted else operands[1:]:
        if word:
            operand(out, here, word, recursive=False)


def _truncate(out: Targets, here: str | None, args: list[str]) -> None:
    _plain_files(out, here, args, {"-s", "--size", "-r", "--reference"})


def _tee(out: Targets, here: str | None, args: list[str]) -> None:
    _plain_files(out, here, args, {"--output-error"})


def _dd(out: Targets, here: str | None, args: list[str]) -> None:
    for arg in args:
        if arg.startswith("of="):
            operand(out, here, arg[3:], recursive=False)


def _git(out: Targets, here: str | None, args: list[str]) -> None:
    it = iter(args)
    sub: str | None = None
    for arg in it:
        if arg == "-C":
            moved = expand(out, here, next(it, ""))
            here = moved[0] if moved and len(moved) == 1 else None
        elif arg in ("-c", "--git-dir", "--work-tree", "--namespace"):
            next(it, None)
        elif not arg.startswith("-"):
            sub = arg
            break
    rest = list(it)
    if sub in _GIT_UNNAMED:
        out.miss(None, f"git {sub} can rewrite or delete files it does not name; not computed")
    elif sub == "restore":
        operands, options = split_args(rest, frozenset({"-s", "--source", "--pathspec-from-file"}))
        staged_only = ("-S" in options or "--staged" in options) and not (
            "-W" in options or "--worktree" in options
        )
        if not staged_only:
            for word in operands:
                operand(out, here, word, recursive=True)
    elif sub == "checkout":
        if "--" in rest:
            paths = rest[rest.index("--") + 1 :]
        else:
            operands, _ = split_args(rest, frozenset({"-b", "-B", "--orphan"}))
            found = [w for w in operands if _exists(out, here, w)]
            if len(found) < len(operands):
                out.miss(None, "git checkout of a branch or commit can rewrite any tracked file")
            paths = found
        for word in paths:
            operand(out, here, word, recursive=True)


def _exists(out: Targets, here: str | None, word: str) -> bool:
    return out.disk and any(os.path.lexists(p) for p in expand(out, here, word) or ())


def _find(out: Targets, here: str | None, args: list[str]) -> None:
    if "-delete" in args and not out.disk:
        out.miss(None, "find -delete: the files it matches are not known here; not computed")
        return
    if "-delete" not in args:
        if any(a in ("-exec", "-execdir", "-ok") for a in args) and any(
            os.path.basename(a) in DESTRUCTIVE for a in args
        ):
            out.miss(None, "find -exec runs a command on files it finds; not computed")
        return
    start = next((i for i, a in enumerate(args) if a.startswith(("-", "(", "!"))), len(args))
    roots, expr = args[:start] or ["."], args[start:]
    tests: list[tuple[str, str]] = []
    depth = [0, 1 << 30]
    it = iter(expr)
    for arg in it:
        if arg == "-delete":
            continue
        if arg in _FIND_SIMPLE or arg in _FIND_DEPTH:
            value = next(it, "")
            if arg in _FIND_DEPTH:
                if not value.isdigit():
                    out.miss(None, f"find {arg} {short(value)} is not a number; not computed")
                    return
                depth[arg == "-maxdepth"] = int(value)
            else:
                tests.append((arg, value))
            continue
        out.miss(None, f"find expression {short(arg)} is not evaluated here; not computed")
        return
    for word in roots:
        for root in expand(out, here, word) or ():
            for path in walk(out, root) if out.isdir(root) else iter([root]):
                rel = os.path.relpath(path, root)
                level = 0 if rel == "." else rel.count(os.sep) + 1
                shown = word if rel == "." else os.path.join(word, rel)  # as find prints it
                if depth[0] <= level <= depth[1] and all(_test(t, v, shown) for t, v in tests):
                    out.add(path)


def _test(test: str, value: str, shown: str) -> bool:
    """One ``find`` test against the path as find shows it (the root word as given)."""
    if test == "-type":
        return value == "f"  # -delete of -type d removes empty folders: no file content
    if test in ("-path", "-wholename"):
        return fnmatch.fnmatchcase(shown, value)
    path = shown
    name = os.path.basename(path)
    if test == "-iname":
        return fnmatch.fnmatchcase(name.lower(), value.lower())
    return fnmatch.fnmatchcase(name, value)


READERS: dict[str, Reader] = {
    "rm": _rm,
    "unlink": _rm,
    "shred": _rm,
    "mv": _mv,
    "cp": _cp,
    "sed": _sed,
    "gsed": _sed,
    "perl": _perl,
    "truncate": _truncate,
    "tee": _tee,
    "dd": _dd,
    "git": _git,
    "find": _find,
}


def targets(command: object, cwd: str, *, disk: bool = True) -> Targets:
    """The files ``command`` (run in ``cwd``) may destroy or rewrite, and what is unknown;
    ``disk=False`` reads the command alone (:mod:`affidavit.capture.shell_targets`)."""
    return shell_targets.targets(command, cwd, READERS, disk=disk)
