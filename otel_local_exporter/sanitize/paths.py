"""Paths: the user's own home in any spelling, anyone's home, and absolute paths that could name
someone; package tails (``site-packages/...``), the project's own source files
(``<PATH>/installer/steps/models.py``: a traceback a maintainer can read) and system folders
stay readable."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .rule import AnchoredPattern, Rule, compile_on_use

# A whole run of separators (JSON doubles them), bounded: a long run must not cost quadratic time.
_SEP = r"[/\\]{1,4}(?![/\\])"
# The project's own packages, as the folder of a Python source file (a traceback frame:
# ".../installer/steps/models.py"): the tail from the package on names code, not a person.
PROJECT_PACKAGES = ("installer", "otel_local_exporter", "telemetry_cli")
_OWN_SOURCE = r"(?=(?:[/\\]{1,4}[\w.-]+){1,8}\.py(?![\w.]))"
_PKG = (
    r"(?:site-packages|dist-packages|node_modules|(?:"
    + "|".join(PROJECT_PACKAGES)
    + ")"
    + _OWN_SOURCE
    + ")"
)
_POSIX_C = r"[^\s/\\\"'`<>|:;,()\[\]{}*?]"  # one character of a POSIX path part
_WIN_C = r"[^\s/\\\"'`<>|:*?,;]"  # one character of a Windows path part (parens allowed)
_USERS = r"(?:[Hh][Oo][Mm][Ee][Ss]?|[Uu][Ss][Ee][Rr][Ss])"


def _part(char: str, spaces: bool) -> str:
    """One path part. With ``spaces``, words joined by single blanks count when a separator or
    quote follows (``My Documents\\``, ``'Program Files'``), so a last bare word never eats the
    prose after it."""
    if not spaces:
        return f"{char}+"
    return f"(?:{char}+(?: [\\w(]{char}*){{1,3}}(?=[/\\\\\"'])|{char}+)"


def _path_regex(head: str, char: str, spaces: bool) -> str:
    """``head`` plus the rest of the path, stopping before a package root if there is one.

    The match ends right before ``/site-packages`` (a lookahead refuses that part), so the
    package tail stays in place and the replacement is a plain ``<PATH>``: one pass, no Python
    callback per path. A trailing dot (end of a sentence) is left out.
    """
    part = _part(char, spaces)
    not_package = f"(?!{_PKG}(?!{char}))"
    return f"{head}(?:{_SEP}{not_package}{part})*(?:{_SEP}{not_package})?(?<![.])"


def _home_parts(home: str) -> tuple[str, list[str]] | None:
    """``(drive, parts)`` of an absolute home folder, or ``None`` for anything else."""
    parts = [p for p in re.split(r"[\\/]+", home.strip()) if p]
    drive = ""
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        drive = parts.pop(0)
    if not parts or not (drive or home.strip().startswith(("/", "\\"))):
        return None
    return drive, parts


_HOME_END = r"(?![^\s/\\\"'`<>|:;,()\[\]{}*?])"  # the home ends here: /home/bob, not /home/bobby


def _home_branch(parts: list[str]) -> str:
    """A home's folders after its first separator: any slashes, any case, then the rest."""
    spaces = any(" " in p for p in parts)
    body = "(?i:" + _SEP.join(re.escape(p) for p in parts) + ")" + _HOME_END
    return _path_regex(body, _WIN_C if spaces else _POSIX_C, spaces)


def windows_home_rule(homes: Iterable[str]) -> Rule | None:
    """The user's own Windows home (``C:\\Users\\Jane Doe``) in any slash style and case.

    The generic drive rule already scrubs it; this one also takes a last folder with spaces
    at the very end of a text (``...\\Users\\Jane Doe``), where the generic rule must stop
    at the first word. Anchored on ``:\\`` / ``:/`` like the drive rule.
    """
    branches = []
    letters: set[str] = set()
    needles: set[str] = set()
    for home in homes:
        found = _home_parts(home or "")
        if found is None or not found[0]:
            continue
        drive, parts = found
        letters.update((drive[0].lower(), drive[0].upper()))
        branches.append(_SEP + _home_branch(parts))
        needles.add(parts[-1].lower())
    if not branches:
        return None
    return Rule(
        "windows_home",
        "path",
        AnchoredPattern(
            compile_on_use(r":[/\\]"),
            compile_on_use(":(?:" + "|".join(branches) + ")"),
            back=compile_on_use(r"(?<![\w.~>])[" + "".join(sorted(letters)) + r"]\Z"),
            window=1,
        ),
        "<PATH>",
        needles=tuple(sorted(needles)),
        ci=True,
        whole_text=True,
        chars=frozenset(":"),
        examples=tuple(f"in {h}\\x.py" for h in homes if h),
    )


_SYSTEM_ROOTS = (
    r"(?:usr|bin|sbin|lib|lib32|lib64|libx32|etc|proc|sys|dev|nix/store|"
    r"opt/homebrew|opt/conda|System|Library|Applications)(?=/)"
)
_NAME = rf"(?:{_POSIX_C}+(?: \w{_POSIX_C}*){{1,2}}(?=[/\\])|{_POSIX_C}+)"
_GENERIC_POSIX = _path_regex(
    # an absolute path of 2+ parts, not below a system root (unless a home is)
    r"(?:(?<![\w.~/\\>}]/)"
    rf"(?!{_SYSTEM_ROOTS}(?![^\s\"'`<>|:;,]*?[/\\]{_USERS}[/\\]))"
    rf"{_POSIX_C}+(?=/{_POSIX_C})"
    # /home/<name>, /Users/<name> anywhere, even inside a relative path
    r"|[/\\]{0,3}" + _USERS + _SEP + _NAME + r")",
    _POSIX_C,
    False,
)


def posix_path_rule(homes: Iterable[str] = ()) -> Rule:
    """Absolute POSIX paths: the user's own home first (wherever it is, spaces and all), then
    anyone's ``/home/<name>`` or ``/Users/<name>``, then any path outside system folders.

    All branches start with ``/``, so one fast literal-prefix scan serves them all.
    """
    branches = []
    for home in homes:
        found = _home_parts(home or "")
        if found is not None and not found[0] and home.strip().startswith("/"):
            branches.append("(?<![\\w.~>]/)" + _home_branch(found[1]))
    branches.sort(key=len, reverse=True)
    branches.append(_GENERIC_POSIX)
    return Rule(
        "posix_path",
        "path",
        compile_on_use("/(?:" + "|".join(branches) + ")"),
        "<PATH>",
        needles=("/",),
        whole_text=True,  # "/" is everywhere; one pass with a literal-prefix scan is faster
        chars=frozenset("/"),
        examples=(*(f"at {h}/x.py" for h in homes if h), "/home/bob/x and /tmp/y/z"),
    )


POSIX_PATH = posix_path_rule()
"""Anyone's home folder, and other absolute paths that could hold a name (no own home)."""

WINDOWS_PATH = Rule(
    "windows_path",
    "path",
    AnchoredPattern(
        compile_on_use(r":[/\\]"),
        compile_on_use(_path_regex(":" + _SEP + _part(_WIN_C, True), _WIN_C, True)),
        back=compile_on_use(r"(?<!\w)[A-Za-z]\Z"),
        window=1,
    ),
    "<PATH>",
    needles=(":/", ":\\"),
    whole_text=True,  # anchored on ":/" and ":\\" already
    chars=frozenset(":"),
    examples=("C:\\Users\\Jane Doe\\x.py and D:/projects/x",),
)
"""Any drive path (``C:\\Users\\Jane Doe\\x``, ``D:/projects/x``); ``C:\\`` alone stays."""

BACKSLASH_PATH = Rule(
    "backslash_path",
    "path",
    compile_on_use(
        _path_regex(
            r"\\(?:\\[\w.$-]+\\[^\s\\/\"'`<>|:*?]+"  # UNC: \\server\share
            r"|[/\\]{0,3}" + _USERS + _SEP + _NAME + r")",  # \Users\<name> without a drive
            _WIN_C,
            False,
        )
    ),
    "<PATH>",
    needles=("\\",),
    chars=frozenset("\\"),
    examples=("\\\\server\\share\\x and \\Users\\bob\\x",),
)
"""UNC paths (the server may be this host) and drive-less ``\\Users\\<name>``."""

HOME_RELATIVE_PATH = Rule(
    "home_relative_path",
    "path",
    compile_on_use(
        _path_regex(
            r"(?:~(?<![\w~]~)(?:[A-Za-z][\w.-]*)?"  # ~/x (own home), ~bob/x (bob's)
            r"|\$(?:HOME\b|\{HOME\}|env:(?:USERPROFILE|HOME)\b)"
            r"|%(?:USERPROFILE|HOMEPATH|HOMEDRIVE%%HOMEPATH)%"
            # a template expression naming the home: {Path.home()}/x, {user_home}/x
            r"|\{[^{}\n]{0,40}?(?i:home|userprofile)[^{}\n]{0,40}?\})"
            r"(?=" + _SEP + _POSIX_C + r")",
            _POSIX_C,
            False,
        )
    ),
    "<PATH>",
    needles=("~", "home", "userprofile"),
    ci=True,
    chars=frozenset("~$%{"),
    examples=("~/x and $HOME/y and %USERPROFILE%\\z and {Path.home()}/w",),
)
"""Paths below a home written through it: ``~/x``, ``~bob/x``, ``$HOME/x``, ``%USERPROFILE%\\x``,
``{Path.home()}/x``. Below the home means private, whatever the folder is called."""
