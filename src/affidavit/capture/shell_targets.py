"""Which existing files a shell command is about to delete, move over, truncate or rewrite.

Read at PreToolUse of ``Bash`` (:mod:`affidavit.capture.preimages` snapshots what this
names), so that rolling back a shell ``rm`` works without a prior Read. The command is split
with :mod:`shlex` (POSIX rules, ``;`` ``&&`` ``||`` ``|`` ``&`` and new lines as separators,
``>``-style redirections as their own tokens) and each simple command is read by what it is:

* ``rm``/``unlink``/``shred`` operands (folders too with ``-r``); ``truncate``, ``tee`` and
  ``dd of=`` files; ``sed -i`` and ``perl -i`` files; ``>``, ``>>``, ``>|``, ``&>``, ``<>``
  redirection targets;
* ``mv`` sources and what they land on; ``cp`` destinations that exist already;
* ``git checkout -- PATHS`` (or paths without ``--``) and ``git restore PATHS``;
* ``find ROOTS ... -delete`` when the expression is only ``-name``/``-iname``/``-path``/
  ``-type``/``-maxdepth``/``-mindepth``; otherwise it is named as not computable.

Relative paths are taken against the cwd, followed through ``cd DIR`` within the command;
globs, ``~`` and one level of ``{a,b}`` are expanded as the shell would. Over-naming is
harmless (a pre-image is only kept when the command then really changed the file), so where
the shell's own reading is not known (quoted glob characters look like globs here, ``2>``
leaves a ``2`` operand) the wider reading is taken. What cannot be computed (``$VAR``,
``$(...)``, ``xargs rm``, ``git reset --hard``) comes back as a reason, never as a guess.
Pure standard library; never raises on any input (the hook must not break the agent).

``disk=False`` reads the command alone, for a collector that got it over ``http`` and cannot
see the machine it ran on: no glob, ``~``, folder walk or existence test is tried (each would
look at the collector's own disk); a name is taken as written, a folder as its own name, and
what needs the disk to know comes back as a reason.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import re
import shlex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    Reader = Callable[["Targets", "str | None", list[str]], None]

MAX_COMMAND = 256 * 1024  # characters parsed; a longer command is named, not parsed
MAX_MISSES = 50
MAX_GLOB_DEPTH = 8  # wildcard path levels expanded; more could walk a whole disk
MAX_WALK = 10_000  # folder entries visited for one command (rm -r, find, git checkout .)
_PUNCT = "();<>|&\n"
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = frozenset({"nohup", "time", "command", "builtin", "exec", "nice", "stdbuf"})
DESTRUCTIVE = frozenset({"rm", "unlink", "shred", "mv", "cp", "sed", "truncate", "tee", "perl"})
SKIP_DIRS = frozenset({".git", ".hg", ".svn"})  # as the workspace manifest skips them

Miss = tuple[str | None, str]  # (path or None, why no pre-image can be named)


class Targets:
    """Paths found (absolute, in order, once each) and what could not be computed."""

    __slots__ = ("disk", "dropped", "misses", "paths", "visited")

    def __init__(self, *, disk: bool = True) -> None:
        self.paths: dict[str, None] = {}
        self.misses: list[Miss] = []
        self.visited = 0
        self.dropped = 0  # misses past MAX_MISSES, counted only
        self.disk = disk  # False: this machine's disk is not the command's; never look at it

    def isdir(self, path: str) -> bool:
        """A folder on the command's disk (``os.path.isdir``); False when the disk is unseen."""
        return self.disk and os.path.isdir(path)

    def add(self, path: str) -> None:
        self.paths.setdefault(path, None)

    def miss(self, path: str | None, reason: str) -> None:
        if len(self.misses) < MAX_MISSES:
            self.misses.append((path, reason))
        else:
            self.dropped += 1


def targets(
    command: object, cwd: str, readers: Mapping[str, Reader], *, disk: bool = True
) -> Targets:
    """The files ``command`` (run in ``cwd``) may destroy or rewrite, and what is unknown.

    ``readers`` read one simple command each, by program name
    (:data:`affidavit.capture.shell_commands.READERS`); ``disk=False``: see the module's
    docstring.
    """
    out = Targets(disk=disk)
    if not isinstance(command, str) or not command.strip():
        return out
    if len(command) > MAX_COMMAND:
        out.miss(None, f"command is {len(command)} characters, more than the {MAX_COMMAND} read")
        return out
    try:
        tokens = _tokens(command)
    except ValueError as e:  # unbalanced quotes, a trailing backslash
        out.miss(None, f"command does not parse as shell: {e}")
        return out
    here: str | None = cwd
    for words, redirects in _commands(tokens):
        for target in redirects:
            operand(out, here, target, recursive=False)
        here = _simple(out, here, words, readers)
    return out


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=_PUNCT)
    lexer.whitespace = " \t\r"  # a new line separates commands, as ';' does
    lexer.whitespace_split = True
    lexer.commenters = ""  # '#' inside a word is no comment; see _commands
    return list(lexer)


def _commands(tokens: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(words, write-redirection targets) of each simple command, in order."""
    words: list[str] = []
    redirects: list[str] = []
    op: str | None = None
    comment = False
    for tok in tokens:
        punct = bool(tok) and all(c in _PUNCT for c in tok)
        if comment and not (punct and "\n" in tok):
            continue
        if punct and ("<" in tok or ">" in tok) and not any(c in tok for c in ";|\n()"):
            op = tok
            continue
        if punct:
            comment = False
            if words or redirects:
                yield words, redirects
            words, redirects, op = [], [], None
            continue
        if op is not None:
            if op in _WRITE_REDIRECTS and not (op == ">&" and (tok.isdigit() or tok == "-")):
                redirects.append(tok)
            op = None  # '<', '<<' (here-document word), '<&': nothing written
            continue
        if tok.startswith("#"):
            comment = True  # a word starting with '#' opens a comment, to the end of the line
            continue
        words.append(tok)
    if words or redirects:
        yield words, redirects


def _strip_prefixes(words: list[str]) -> list[str]:
    """The command after assignments and wrappers: ``X=1 sudo -u u env Y=2 nohup rm f``."""
    i = 0
    while i < len(words):
        word = words[i]
        if _ASSIGNMENT.match(word) or word in _PREFIXES:
            i += 1
        elif word in ("sudo", "env", "doas", "timeout"):
            i += 1
            while i < len(words) and words[i].startswith("-"):
                takes = words[i] in ("-u", "-g", "-C", "-p", "-U", "-h", "-s", "-k", "-S")
                i += 2 if takes and word in ("sudo", "timeout") else 1
            if word == "timeout" and i < len(words):
                i += 1  # the duration
        else:
            break
    return words[i:]


def _simple(
    out: Targets, here: str | None, words: list[str], readers: Mapping[str, Reader]
) -> str | None:
    """Read one simple command into ``out``; returns the working folder after it."""
    words = _strip_prefixes(words)
    if not words:
        return here
    name = os.path.basename(words[0])
    args = words[1:]
    if name in ("cd", "pushd"):
        return _cd(out, here, args)
    reader = readers.get(name)
    if reader is not None:
        reader(out, here, args)
    elif name == "xargs" and any(os.path.basename(w) in DESTRUCTIVE for w in args):
        out.miss(None, "xargs takes its file names from standard input; not computed")
    return here


def _cd(out: Targets, here: str | None, args: list[str]) -> str | None:
    operands = [a for a in args if not a.startswith("-") or a == "-"]
    if not operands:
        return os.path.expanduser("~") if out.disk else None
    if operands[0] == "-":
        return None  # the previous folder: not known here
    paths = expand(out, here, operands[0])
    if paths is None or len(paths) != 1:
        return None  # later relative paths are then named as not computable
    return paths[0]


def expand(out: Targets, here: str | None, word: str) -> list[str] | None:
    """Absolute paths ``word`` stands for, or None (with the reason noted) if unknown."""
    if "$" in word or "`" in word:
        out.miss(None, f"{short(word)} depends on shell expansion; not computed")
        return None
    if "\0" in word:
        out.miss(None, f"{short(word)} holds a NUL byte; not a path")
        return None
    if word.startswith("~"):
        if not out.disk:
            out.miss(None, f"{short(word)} is under a home folder not known here; not computed")
            return None
        word = os.path.expanduser(word)
    if not os.path.isabs(word):
        if here is None:
            out.miss(None, f"{short(word)} is relative to a folder the command changed to")
            return None
        word = os.path.join(here, word)
    found: list[str] = []
    for part in _braces(word):
        path = os.path.normpath(part)
        wild = sum(any(c in part for c in "*?[") for part in path.split(os.sep))
        if wild > MAX_GLOB_DEPTH:
            out.miss(None, f"{short(word)} has {wild} wildcard levels; not expanded")
        elif wild and not out.disk:
            out.miss(None, f"{short(word)} is a pattern; the files it matches are not known here")
            continue
        elif wild:
            with contextlib.suppress(OSError, ValueError, re.error):
                found += sorted(itertools.islice(glob.iglob(path), MAX_WALK))
        found.append(path)  # the literal name too: a quoted glob character is literal
    return list(dict.fromkeys(found))


def _braces(word: str) -> list[str]:
    """One level of brace expansion: ``f.{txt,bak}`` → ``f.txt``, ``f.bak``."""
    m = re.search(r"\{([^{}]*,[^{}]*)\}", word)
    if m is None:
        return [word]
    return [word[: m.start()] + alt + word[m.end() :] for alt in m.group(1).split(",")][:64]


def short(word: str) -> str:
    return repr(word[:80] + ("…" if len(word) > 80 else ""))


def operand(out: Targets, here: str | None, word: str, *, recursive: bool) -> None:
    for path in expand(out, here, word) or ():
        if recursive and out.isdir(path) and not os.path.islink(path):
            for file in walk(out, path):
                out.add(file)
        else:
            out.add(path)


def walk(out: Targets, top: str) -> Iterator[str]:
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            out.visited += 1
            if out.visited > MAX_WALK:
                out.miss(top, f"more than {MAX_WALK} files under it; the rest not named")
                return
            yield os.path.join(folder, name)


def split_args(args: list[str], with_value: frozenset[str]) -> tuple[list[str], dict[str, str]]:
    """(operands, options) of a GNU-style argument list; ``--`` ends the options."""
    operands: list[str] = []
    options: dict[str, str] = {}
    it = iter(args)
    for arg in it:
        if arg == "--":
            operands += list(it)
            break
        if arg.startswith("--"):
            key, eq, value = arg.partition("=")
            options[key] = value if eq else (next(it, "") if key in with_value else "")
        elif arg.startswith("-") and arg != "-":
            for i, flag in enumerate(arg[1:], start=1):
                key = "-" + flag
                if key in with_value:
                    options[key] = arg[i + 1 :] or next(it, "")
                    break
                options[key] = ""
        else:
            operands.append(arg)
    return operands, options
