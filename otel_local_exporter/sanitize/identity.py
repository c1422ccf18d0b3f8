"""Identity: the login name and the host name, as words, in any case."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .rule import PLACEHOLDER_NAMES, LowerCasePattern, Rule

# English letters, most frequent first; without i, k and s, which Unicode case folding can reach
# from other characters (dotted I, Kelvin sign, long s).
_LETTER_FREQUENCY = "etaonrhldcumfpgwybvxjqz"


def _rare_char_cases(name: str) -> set[str]:
    """The least frequent letter of ``name`` in both cases: every match of the name holds one,
    and a rare one lets most strings skip the rule on a set test."""
    letters = [c for c in name.lower() if c in _LETTER_FREQUENCY]
    if not letters:  # only digits, punctuation, i/k/s or other letters: use them all
        return {v for c in name for v in (c, *c.lower(), *c.upper(), *c.casefold())}
    rare = max(letters, key=_LETTER_FREQUENCY.find)
    return {rare, rare.upper()}


def name_rule(name: str, kind: str, placeholder: str, names: Iterable[str]) -> Rule | None:
    """Replace each of ``names`` where it stands as a word, in any case.

    Names of three or more characters only need a non-alphanumeric character on each side
    (``bob_dev``, ``bob-laptop`` lose the name); shorter ones must be whole ``\\w`` words.
    """
    unique = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
    if not unique:
        return None
    alternatives = []
    for n in unique:
        escaped = re.escape(n.lower())
        if len(n) >= 3:
            alternatives.append(rf"(?<![^\W_]){escaped}(?![^\W_])")
        else:
            alternatives.append(rf"(?<!\w){escaped}(?!\w)")
    return Rule(
        name,
        kind,
        LowerCasePattern(
            # not inside a placeholder already written (a user called "path")
            rf"(?!(?<=<)(?:{PLACEHOLDER_NAMES.lower()})>)(?:" + "|".join(alternatives) + ")"
        ),
        placeholder,
        needles=tuple(sorted({n.lower() for n in unique})),
        ci=True,
        chars=frozenset(c for n in unique for c in _rare_char_cases(n)),
        examples=tuple(f"run by {n} ({n.upper()}) on x" for n in unique),
    )


_NOT_A_HOST = frozenset({"localhost", "localhost.localdomain", "localdomain", "(none)"})


def host_forms(hosts: Iterable[str]) -> list[str]:
    """Each host name, full and short (``box.corp.example`` and ``box``); not ``localhost``."""
    forms = []
    for host in hosts:
        host = (host or "").strip().rstrip(".")
        if not host or host.lower() in _NOT_A_HOST:
            continue
        forms.append(host)
        short = host.split(".", 1)[0]
        if short and short.lower() not in _NOT_A_HOST:
            forms.append(short)
    return forms
