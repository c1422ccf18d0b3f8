"""Speed hints never change a result: every rule with and without them gives the same output.

A rule's needles, triggers, character mask and line mode (:class:`Rule`) only let the engine
skip work. A wrong hint would switch a privacy rule off silently for the texts it misjudges, so
hypothesis builds texts from every rule's own examples (cut, repeated, re-cased, joined with
noise) and each rule runs with its hints and as a hint-free twin, alone and in a full chain,
short and long (line mode). The twin only runs the rule's pattern over the whole text.
"""

from __future__ import annotations

import dataclasses
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_local_exporter.sanitize import (
    SECRET_FLAG,
    Rule,
    Sanitizer,
    default_rules,
    is_secret_key,
)
from otel_local_exporter.sanitize.assignments import STEMS
from otel_local_exporter.sanitize.rule import LINE_MODE_MIN
from otel_local_exporter.sanitize.secret_names import words

IDENTITIES = (
    {
        "user": "alice",
        "home": "/home/alice",
        "host": "alice-laptop",
        "extra_secrets": ["s3cr3t"],
        "terms": ["Acme Corp", "falcon"],
    },
    {
        "user": "Jane Doe",
        "home": "C:\\Users\\Jane Doe",
        "host": "JANE-PC.corp.example",
        "terms": [],
    },
)
CHAINS = [default_rules(**identity) for identity in IDENTITIES]
RULES = {rule.name + str(i): rule for i, chain in enumerate(CHAINS) for rule in chain}
RULES["secret_flag"] = SECRET_FLAG


def bare(rule: Rule) -> Rule:
    """The rule without any speed hint: its pattern over the whole text, always."""
    return dataclasses.replace(
        rule,
        needles=(),
        triggers=(),
        hay_triggers=(),
        chars=frozenset(),
        line_local=False,
        whole_text=False,
        ci=False,
    )


EXAMPLES = sorted({e for rule in RULES.values() for e in rule.examples})
PIECES = sorted({p for e in EXAMPLES for p in re.split(r"(?<=[\s,;])", e) if p.strip()})
NOISE = " \t\n=:-_./\\'\"<>()[]{},;@~$%aAkKeEsSpP019xyz"

fragments = st.one_of(
    st.sampled_from(EXAMPLES),
    st.sampled_from(PIECES),
    st.text(alphabet=NOISE, max_size=6),
)
texts = st.builds(
    lambda parts, case: case("".join(parts)),
    st.lists(fragments, min_size=1, max_size=8),
    st.sampled_from([str, str.lower, str.upper, str.swapcase, str.title]),
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_rule_has_examples_that_it_changes() -> None:
    for name, rule in RULES.items():
        if rule.name == "windows_home" or name.startswith(("windows_home",)):
            continue
        assert rule.examples, name
        assert any(rule.apply(e)[1] for e in rule.examples), name


def test_each_example_and_piece_alone_with_and_without_hints() -> None:
    """Every example and every piece of one, in every case, through every rule: exhaustive."""
    for text in EXAMPLES + PIECES:
        for variant in {text, text.lower(), text.upper(), text.swapcase()}:
            long = "\n".join([variant] * (LINE_MODE_MIN // len(variant) + 2))
            for name, rule in RULES.items():
                twin = bare(rule)
                assert rule.apply(variant) == twin.apply(variant), (name, variant)
                assert rule.apply(long) == twin.apply(long), (name, variant)


@SETTINGS
@given(text=texts)
def test_each_rule_with_and_without_hints(text: str) -> None:
    long = "\n".join([text] * (LINE_MODE_MIN // max(len(text), 1) + 2))
    for name, rule in RULES.items():
        twin = bare(rule)
        assert rule.apply(text) == twin.apply(text), name
        assert rule.apply(long) == twin.apply(long), name


@SETTINGS
@given(text=texts)
def test_the_chain_with_and_without_hints(text: str) -> None:
    long = "\n".join([text] * (LINE_MODE_MIN // max(len(text), 1) + 2))
    for chain in CHAINS:
        hinted = Sanitizer(rules=chain)
        plain = Sanitizer(rules=[bare(rule) for rule in chain])
        assert hinted.text(text) == plain.text(text)
        assert hinted.text(long) == plain.text(long)
        assert hinted.counts == plain.counts


@SETTINGS
@given(text=texts)
def test_a_secret_replacement_is_counted_only_if_it_removed_something(text: str) -> None:
    """Each counted replacement writes one new ``<SECRET>`` and removes what it replaced."""
    if "<" in text:
        return
    for name, rule in RULES.items():
        if rule.kind != "secret":
            continue
        out, n = rule.apply(text)
        assert n == out.count("<SECRET>"), (name, text, out)
        assert (n == 0) == (out == text), name


NAME_PARTS = [
    "api",
    "token",
    "pass",
    "pw",
    "key",
    "sort",
    "db",
    "my",
    "secret",
    "auth",
    "id",
    "x",
    "session",
    "max",
    "salt",
    "dsn",
    "type",
    "private",
    "tokenizer",
    "author",
    "cred",
]
name_parts = st.sampled_from(NAME_PARTS)


@settings(max_examples=500, deadline=None)
@given(
    parts=st.lists(name_parts, min_size=1, max_size=4),
    sep=st.sampled_from(["_", "-", ".", "", "camel"]),
)
def test_every_secret_name_holds_a_stem(parts: list[str], sep: str) -> None:
    """The assignment rule finds names by their stems: every secret name must hold one."""
    camel = parts[0] + "".join(p.title() for p in parts[1:])
    name = camel if sep == "camel" else sep.join(parts)
    if is_secret_key(name):
        assert any(stem in name.lower() for stem in STEMS), name
    assert words(name.upper()) == words(name.upper().lower().upper())
