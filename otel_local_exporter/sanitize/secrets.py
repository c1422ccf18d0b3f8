"""Secrets with a fixed form: PEM private keys, ``Authorization``/``Cookie`` headers, ``Bearer``
and ``Basic`` credentials, and the caller's own literal secrets.

The other secret families have their own modules: values given to secret-named keys and
credential flags in :mod:`.assignments` (with the vocabulary in :mod:`.secret_names`), vendor
tokens in :mod:`.tokens`. Secrets run first in the chain, so that nothing later (a URL or path
rule) can split or hide them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .rule import PLACEHOLDER_LOWER, LowerCasePattern, Rule, compile_on_use

PRIVATE_KEY = Rule(
    "private_key",
    "secret",
    compile_on_use(
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*)",
        re.S,
    ),
    "<SECRET>",
    needles=("-----BEGIN",),
    line_local=False,
    chars=frozenset("G"),  # every match holds "BEGIN": a rarer letter than "-"
    examples=("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----",),
)
"""PEM private keys, to the END line; a truncated key is scrubbed to the end of the text."""

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
    examples=("Authorization: Bearer abc.def", "curl -H 'Cookie: a=1; b=2' x"),
)
"""``Authorization:`` and ``Cookie:`` headers: the rest of the line is the secret."""


AUTH_SCHEME = Rule(
    "auth_scheme",
    "secret",
    compile_on_use(
        r"(?<![\w-])(?P<s>[Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+"
        # a real credential has a digit or symbol inside, or a lower-to-upper case change
        r"(?=[A-Za-z]*(?:[0-9_~+/=-]|\.[A-Za-z0-9]|[a-z][A-Z]))"
        r"[A-Za-z0-9._~+/-]{8,}=*"
    ),
    r"\g<s> <SECRET>",
    needles=("bearer", "basic"),
    ci=True,
    chars=frozenset("bB"),
    examples=("Bearer abcdef123456 and Basic dXNlcjpwYXNz",),
)
"""``Bearer``/``Basic`` credentials. Plain words after them (``Basic installation``) stay: a
real credential has digits, symbols or mixed case."""


def literal_rule(secrets: Iterable[str]) -> Rule | None:
    """Replace the caller's ``extra_secrets`` literally, longest first."""
    values = sorted({v for v in secrets if isinstance(v, str) and v}, key=len, reverse=True)
    if not values:
        return None
    return Rule(
        "extra_secrets",
        "secret",
        compile_on_use("|".join(re.escape(v) for v in values)),
        "<SECRET>",
        needles=tuple(values),
        line_local=not any("\n" in v or "\r" in v for v in values),
        chars=frozenset(v[0] for v in values),
        examples=tuple(f"value {v} here" for v in values),
    )
