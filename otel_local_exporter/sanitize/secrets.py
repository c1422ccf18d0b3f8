"""Secrets: private keys, credential flags and headers, ``KEY=value`` pairs, known token prefixes.

Secrets run first in the chain, so that nothing later (a URL or path rule) can split or hide
them. :func:`is_secret_key` is also what :meth:`Sanitizer.value` uses to drop a dict entry whose
key names a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .rule import PLACEHOLDER_LOWER, LowerCasePattern, Rule

PRIVATE_KEY = Rule(
    "private_key",
    "secret",
    re.compile(
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*)",
        re.S,
    ),
    "<SECRET>",
    needles=("-----BEGIN",),
    line_local=False,
    chars=frozenset("G"),  # every match holds "BEGIN": a rarer letter than "-"
)
"""PEM private keys, to the END line; a truncated key is scrubbed to the end of the text."""

# Lower case, by first letter, so a failing position costs a few literal compares.
_SECRET_WORD = (
    r"(?:"
    r"a(?:ccess[_.-]?key|pi[_.-]?key|pp[_.-]?key|uth(?:[_-]?token|orization)?)"
    r"|p(?:ass(?:w(?:or)?d|wort|phrase|code)|rivate[_.-]?key)"
    r"|s(?:ecret|igning[_.-]?key|sh[_.-]?key"
    r"|ession(?:[_-]?(?:token|key|cookie|secret)|id|(?![_.-]?id(?![a-z]))))"
    r"|token|c(?:lient[_.-]?key|redentials?|ookie)|encryption[_.-]?key|master[_.-]?key"
    r"|license[_.-]?key|jwt"
    r")s?(?![a-z])"
)
"""A key that names a secret (lower case). A letter right after disqualifies (``author``,
``tokenizer``, ``authenticationerror``); a suffix after ``_``/``.``/``-`` does not."""

_SECRET_KEY = re.compile(_SECRET_WORD)


def is_secret_key(key: str) -> bool:
    """Does a dict key / attribute name name a secret (its entry is then dropped whole)?"""
    return _SECRET_KEY.search(key.lower()) is not None


AUTH_HEADER = Rule(
    "auth_header",
    "secret",
    LowerCasePattern(
        r"(?P<k>proxy-authorization|authorization|set-cookie|cookie)"
        r"(?P<s>\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?)"
        r"(?!" + PLACEHOLDER_LOWER + r")[^\r\n\"'\\]+"
    ),
    lambda m: m.group("k") + m.group("s") + "<SECRET>",
    needles=("authorization", "cookie"),
    ci=True,
    chars=frozenset(":="),
)
"""``Authorization:`` and ``Cookie:`` headers: the rest of the line is the secret."""


def _flag_repl(m: Any) -> str:
    value = m.group("v")
    quote = value[0] if value[0] in "\"'" else ""
    return m.group("k") + m.group("s") + quote + "<SECRET>" + quote


SECRET_FLAG = Rule(
    "secret_flag",
    "secret",
    LowerCasePattern(
        # "--" not inside a longer run of dashes (a progress bar), then the flag name
        r"(?P<k>--(?<!---)(?=[a-z0-9])[\w-]{0,24}?" + _SECRET_WORD + r"[\w-]{0,40})(?P<s>[ \t]+)"
        r"(?!-|" + PLACEHOLDER_LOWER + r")(?P<v>\"[^\"\n]+\"|'[^'\n]+'|[^\s\"']+)"
    ),
    _flag_repl,
    triggers=(re.compile(r"--(?<!---)(?=\w)"),),
    chars=frozenset("-"),
)
"""``--token VALUE``: a command-line flag naming a secret, and the word after it."""


def _assignment_repl(m: Any) -> str:
    value = m.group("v")
    lead = '\\"' if value.startswith('\\"') else value[0] if value[0] in "\"'" else ""
    return m.group("k") + m.group("s") + lead + "<SECRET>"


SECRET_ASSIGNMENT = Rule(
    "secret_assignment",
    "secret",
    LowerCasePattern(
        # KEY=value, KEY: value, "key": "value", 'key': 'value', \"key\": \"value\"
        # bounded key suffix: a long dotted run must not cost quadratic time
        r"(?P<k>" + _SECRET_WORD + r"[\w.-]{0,40})(?P<s>\\?[\"']?[ \t]*[:=][ \t]*)"
        r"(?!\\?[\"']?" + PLACEHOLDER_LOWER + r")"
        r"(?P<v>(?:bearer|basic|token|digest)[ \t]+[^\s\"'&,;)}\]<>]+"  # TOKEN=Bearer x
        r"|\\\"[^\"\\\n]+|\"[^\"\n]+|'[^'\n]+|[^\s\"'&,;)}\]<>]+)"
    ),
    _assignment_repl,
    # each key word, and only the letters that may follow it in a key (not "tokenizers",
    # "authentication", "keyboard"), so few lines are looked at
    hay_triggers=(
        r"token(?![a-rt-z])",
        r"pass[wpc]",
        r"secret(?![a-rt-z])",
        r"auth(?![a-np-rt-z])",
        r"credential(?![a-rt-z])",
        r"cookie(?![a-rt-z])",
        r"session(?![abd-hjl-ru-z])",
        r"key(?![a-rt-z])",
        r"jwt(?![a-rt-z])",
    ),
    ci=True,
    chars=frozenset(":="),
)
"""``KEY=value`` and its JSON/YAML/dict forms whose key names a secret; the key stays."""

AUTH_SCHEME = Rule(
    "auth_scheme",
    "secret",
    re.compile(
        r"(?<![\w-])(?P<s>[Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+"
        # a real credential has a digit or symbol inside, or a lower-to-upper case change
        r"(?=[A-Za-z]*(?:[0-9_~+/=-]|\.[A-Za-z0-9]|[a-z][A-Z]))"
        r"[A-Za-z0-9._~+/-]{8,}=*"
    ),
    r"\g<s> <SECRET>",
    needles=("bearer", "basic"),
    ci=True,
    chars=frozenset("bB"),
)
"""``Bearer``/``Basic`` credentials. Plain words after them (``Basic installation``) stay: a
real credential has digits, symbols or mixed case."""


def _word_start(first: str) -> str:
    """``first`` (one literal character) not preceded by a letter or digit.

    The assertion comes after the character, so the pattern keeps a literal first character
    and the regex engine can scan for it quickly.
    """
    return f"{first}(?<![A-Za-z0-9]{first})"


KNOWN_TOKENS = Rule(
    "known_tokens",
    "secret",
    re.compile(
        "|".join(
            (
                _word_start("h") + r"f_[A-Za-z0-9]{16,}",
                # GitHub prefixes never start an ordinary word: scrubbed with whatever follows
                _word_start("g") + r"(?:h[pousr]_[A-Za-z0-9]*|ithub_pat_[A-Za-z0-9_]*"
                r"|lpat-[A-Za-z0-9_-]{20,})",
                _word_start("s") + r"k-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}",
                _word_start("A") + r"(?:(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Za-z])"
                r"|Iza[0-9A-Za-z_-]{35})",
                _word_start("p") + r"ypi-[A-Za-z0-9_-]{16,}",
                _word_start("x") + r"ox[abeprs]-[A-Za-z0-9-]{16,}",
                _word_start("n") + r"pm_[A-Za-z0-9]{36}",
                # a JWT does not start inside a base64url run (nor is searched again from there)
                r"e(?<![A-Za-z0-9_-]e)yJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
            )
        )
    ),
    "<SECRET>",
    needles=("sk-", "pypi-", "xox", "glpat-", "eyJ"),
    # hf_, npm_: "_" and 16 token characters; AWS, Google and GitHub keys by their prefix.
    triggers=(
        re.compile(r"_[A-Za-z0-9_-]{16}"),
        re.compile(r"A(?:KIA|SIA|Iza)"),
        re.compile(r"gh(?:[pousr]|ithub_pat)_"),
    ),
    chars=frozenset("_-AJ"),
)
"""Tokens recognisable by their prefix, wherever they stand."""


def literal_rule(secrets: Iterable[str]) -> Rule | None:
    """Replace the caller's ``extra_secrets`` literally, longest first."""
    values = sorted({v for v in secrets if isinstance(v, str) and v}, key=len, reverse=True)
    if not values:
        return None
    return Rule(
        "extra_secrets",
        "secret",
        re.compile("|".join(re.escape(v) for v in values)),
        "<SECRET>",
        needles=tuple(values),
        line_local=not any("\n" in v or "\r" in v for v in values),
        chars=frozenset(v[0] for v in values),
    )
