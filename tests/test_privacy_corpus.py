"""The privacy corpus (``tests/privacy_corpus``): nothing of any secret survives, keeps stay.

Each family has at least 40 shapes; the README in the corpus folder says how each was built.
"""

from __future__ import annotations

import re

import pytest

from otel_local_exporter.sanitize import Sanitizer
from tests.privacy_corpus import FAMILIES, KEEP, Case

CASES = [case for cases in FAMILIES.values() for case in cases]


def _sanitizer() -> Sanitizer:
    return Sanitizer(user="alice", home="/home/alice", host="alice-laptop")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_has_at_least_40_shapes(family: str) -> None:
    texts = {case.text for case in FAMILIES[family]}
    assert len(texts) >= 40, (family, len(texts))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}-{i}" for i, c in enumerate(CASES)])
def test_nothing_of_a_secret_survives(case: Case) -> None:
    s = _sanitizer()
    out = s.text(case.text)
    for secret in case.secrets:
        assert secret not in out, (case.text, out)
        for piece in re.findall(r"[A-Za-z0-9]{6,}", secret):
            assert piece not in out, (piece, case.text, out)
    assert s.counts["secret"] + s.counts["url"] >= 1, (case.text, out)


@pytest.mark.parametrize("text", KEEP)
def test_keep_cases_stay_byte_for_byte(text: str) -> None:
    s = _sanitizer()
    assert s.text(text) == text
    assert not s.counts, dict(s.counts)


def test_the_whole_corpus_as_one_text_gives_the_same_result() -> None:
    """Large texts take the line-by-line road: the same result as case by case."""
    texts = [case.text for case in CASES] + list(KEEP)
    joined = "\n".join(texts * 3)
    assert len(joined) > 20_000
    assert _sanitizer().text(joined) == "\n".join(_sanitizer().text(t) for t in texts * 3)


SENTENCES = [case for case in CASES if case.expected is not None]


def test_there_are_at_least_40_sentences_with_a_secret_inside() -> None:
    assert len({case.text for case in SENTENCES}) >= 40


@pytest.mark.parametrize("case", SENTENCES, ids=[f"sentence-{i}" for i in range(len(SENTENCES))])
def test_the_secret_goes_and_every_other_word_stays(case: Case) -> None:
    """``HF_TOKEN=hf_... was rejected by the hub (401)``: the error message is the bug report."""
    assert _sanitizer().text(case.text) == case.expected
