"""What the text given to a secret name is: code to keep readable, or where a ``.env`` value ends.

Two judgements the assignment grammar (:mod:`.assignments`) asks for, kept apart because they
are about values, not about names:

* :func:`is_code`: ``session = requests.Session()``, ``token = get_token()``,
  ``password = os.environ["DB_PASSWORD"]``, ``api_key = self.api_key`` are source lines (a
  traceback shows one per frame); the right-hand side says where a secret comes from, not what
  it is, and replacing it makes tracebacks unreadable. A value is code when it parses as a
  call or a subscript of a name (``f()``, ``a.b.c(x, y=1)``, ``os.environ["X"]``,
  ``cfg["api_key"]``) or as a dotted name that refers to another secret-named variable
  (``self.api_key``, ``settings.HF_TOKEN``) or starts at ``self``/``cls``/``this``. String
  literals inside are allowed only when they are themselves names, never values: empty, an
  environment variable name (``"HF_TOKEN"``, capitals, digits and ``_``) or a secret name
  (``"api_key"``). So ``get_token("hunter2")``, ``SecretStr("x")``, ``"literal"``, a bare word
  (``abc123``) or a dotted word that names nothing (``hunter.two``) are still replaced: a
  literal or an opaque value is a secret. Inside quotes the same text is a literal (the
  grammar only asks about unquoted values). The accepted cost: a password made of letters with
  parentheses (``abc(def)``) reads as a call and stays.
* :func:`runs_a_command`: after ``NAME=first-word`` at the start of a line, is the rest of the
  line a command (a shell line ``HF_TOKEN=x python run.py``: the value ends at the blank) or
  more of the value (a ``.env`` file ``PASSWORD=correct horse battery``: the value is the whole
  rest of the line, as docker compose and python-dotenv read it)? The rest is a command when
  it starts with a shell operator, holds one (``; & | < > ` $(``), holds an option
  (`` -x``, `` --name``), or its first word is another assignment (``B=2``), a path (``/``,
  ``\\``), a script (``run.py``, ``x.sh``) or a program in :data:`LAUNCHERS`. Otherwise the
  whole rest goes: when unsure, privacy wins and only readability is lost.
"""

from __future__ import annotations

import re

from .rule import compile_on_use
from .secret_names import is_secret_key
from .tokens import TOKEN_PATTERN

LAUNCHERS = frozenset(
    {
        "python",
        "python3",
        "py",
        "pip",
        "pip3",
        "uv",
        "poetry",
        "pipenv",
        "conda",
        "node",
        "npm",
        "npx",
        "yarn",
        "pnpm",
        "bun",
        "deno",
        "bash",
        "sh",
        "zsh",
        "exec",
        "env",
        "sudo",
        "nohup",
        "time",
        "make",
        "docker",
        "podman",
        "kubectl",
        "helm",
        "git",
        "curl",
        "wget",
        "java",
        "go",
        "cargo",
        "dotnet",
        "ruby",
        "perl",
        "php",
        "accelerate",
        "torchrun",
        "huggingface-cli",
        "dinoair-install",
        "dinoair-telemetry",
    }
)
"""Programs that, as the word after ``NAME=value``, make the line a command (data)."""

_SHELL_SIGNS = compile_on_use(r"[;&|<>`]|\$\(|(?:^|[ \t])--?[A-Za-z]")
_ASSIGNMENT_WORD = compile_on_use(r"[A-Za-z_]\w*=")
_SCRIPT = compile_on_use(r"[\w.-]+\.(?:py|sh|bash|js|mjs|ts|rb|pl|php|exe|bat|cmd|ps1|jar)", re.I)


def runs_a_command(rest: str) -> bool:
    """Is ``rest`` (what follows the first word of a line's ``NAME=value``) a command?"""
    words = rest.split()
    if not words:
        return False
    if not rest[0].isspace() or _SHELL_SIGNS.search(rest):
        return True
    first = words[0]
    return (
        _ASSIGNMENT_WORD.match(first) is not None
        or "/" in first
        or "\\" in first
        or _SCRIPT.fullmatch(first) is not None
        or first.lower() in LAUNCHERS
    )


_SEGMENT = compile_on_use(r"[A-Za-z_][A-Za-z_]*[0-9]{0,2}")
_NUMBER = compile_on_use(r"-?[0-9][0-9_.]*")
_STRING = compile_on_use(r"(?P<q>[\"'])(?P<s>[^\"'\\\n]{0,80})(?P=q)")
_ENV_NAME = compile_on_use(r"[A-Z][A-Z0-9_]*")
_NAME_TEXT = compile_on_use(r"[A-Za-z_][\w.-]*")
_KEYWORD = compile_on_use(r"[A-Za-z_]\w*[ \t]*=(?!=)[ \t]*")
_OBJECTS = frozenset({"self", "cls", "this"})
_MAX_CODE = 200
_MAX_DEPTH = 3


def is_code(value: str) -> bool:
    """Is ``value`` (given to a secret name) a call, subscript or reference, not a secret?"""
    v = value.strip().rstrip(";").rstrip()
    if not v or len(v) > _MAX_CODE:
        return False
    parsed = _expression(v, 0, 0)
    if parsed is None:
        return False
    end, segments, postfix = parsed
    if end != len(v):
        return False
    if postfix:  # a call or a subscript
        return True
    if len(segments) < 2:  # a bare word is opaque
        return False
    return segments[0] in _OBJECTS or is_secret_key(segments[-1])


def _expression(v: str, i: int, depth: int) -> tuple[int, list[str], bool] | None:
    """Parse ``name(.name | (args) | [arg])*`` at ``i``: its end, its names, any call/subscript."""
    m = _SEGMENT.match(v, i)
    if m is None:
        return None
    segments = [m.group()]
    postfix = False
    i = m.end()
    while i < len(v):
        c = v[i]
        if c == ".":
            m = _SEGMENT.match(v, i + 1)
            if m is None:
                return None
            segments.append(m.group())
            i = m.end()
        elif c in "([" and depth < _MAX_DEPTH:
            close = ")" if c == "(" else "]"
            end = _arguments(v, i + 1, close, depth + 1)
            if end is None:
                return None
            postfix, i = True, end
        else:
            break
    return i, segments, postfix


def _skip_blanks(v: str, i: int) -> int:
    while i < len(v) and v[i] in " \t":
        i += 1
    return i


def _arguments(v: str, i: int, close: str, depth: int) -> int | None:
    """Parse ``arg, arg, key=arg`` up to ``close``; return the index after it."""
    i = _skip_blanks(v, i)
    if v.startswith(close, i):
        return i + 1
    while i < len(v):
        if close == ")":
            kw = _KEYWORD.match(v, i)
            if kw is not None:
                i = kw.end()
        end = _argument(v, i, depth)
        if end is None:
            return None
        i = _skip_blanks(v, end)
        if v.startswith(close, i):
            return i + 1
        if not v.startswith(",", i):
            return None
        i = _skip_blanks(v, i + 1)
        if v.startswith(close, i):
            return i + 1
    return None


def _argument(v: str, i: int, depth: int) -> int | None:
    """One argument: a name expression, a number, or a string literal that is a name."""
    m = _STRING.match(v, i)
    if m is not None:
        text = m.group("s")
        named = _NAME_TEXT.fullmatch(text) is not None and is_secret_key(text)
        if text and not _ENV_NAME.fullmatch(text) and not named:
            return None  # a literal value, maybe the secret itself
        return m.end()
    m = _NUMBER.match(v, i)
    if m is not None:
        return m.end()
    parsed = _expression(v, i, depth)
    return None if parsed is None else parsed[0]


_FIRST_WORD = compile_on_use(r"[^\s\"'`]+")
_WORD_TAIL = ".,;:!?)]}"
_PROSE_WORD = compile_on_use(
    r"[(\[\"']?(?:[A-Za-z][a-z]*(?:['-][a-z]+)*|[0-9]{1,4})[.,;:!?)\]\"']*"
)
_TOKEN_CHARS = compile_on_use(r"[A-Za-z0-9+/=_.:-]{16,}")


def looks_like_a_token(word: str) -> bool:
    """Is ``word`` one opaque token: a vendor token, or a long run that mixes letters and digits?

    Only a token marks where a value ends before prose; ``correct`` (a pass-phrase's first word)
    is not one, so ``PASSWORD=correct horse battery staple`` still loses all four words.
    """
    if TOKEN_PATTERN.fullmatch(word) is not None:
        return True
    if _TOKEN_CHARS.fullmatch(word) is None:
        return False
    has_digit = any(c.isdigit() for c in word)
    has_letter = any(c.isalpha() for c in word)
    return has_digit and has_letter and len(set(word)) >= 10


def token_then_prose(value: str) -> int | None:
    """The length of ``value``'s first word if it is one token and prose follows it, else None.

    Prose is words of letters (``was rejected by the hub``), numbers such as a status code
    (``(401)``) and punctuation, with at least one lower-case word of two letters or more: what
    an error message adds after a token. A second opaque word (``Xk9mP2 q8Z!r``) is not prose,
    so a value with blanks still goes whole.
    """
    first = _FIRST_WORD.match(value)
    if first is None or first.end() == len(value):
        return None
    word = first.group()
    stripped = word.rstrip(_WORD_TAIL)
    if not stripped or not looks_like_a_token(stripped):
        return None
    rest = value[first.end() :].split()
    if not rest or not all(_PROSE_WORD.fullmatch(w) for w in rest):
        return None
    if not any(
        len(w.strip("()[].,;:!?\"'")) >= 2 and w.strip("()[].,;:!?\"'").islower() for w in rest
    ):
        return None
    return len(stripped)
