"""A rule of the chain, and the patterns that make rules cheap to run.

A :class:`Rule` is a pure ``str -> str`` function (call it) with a kind to count under and
*speed hints* (needles, triggers, characters, line mode) that only let the engine skip work;
they never change what the rule does. :class:`AnchoredPattern` and :class:`LowerCasePattern`
are the two ways to keep a pattern fast on long text: scan for a literal anchor, or match on
the lower-cased text instead of folding case character by character.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

LINE_MODE_MIN = 2048  # from this length on, triggered rules run only on the lines with hits

# A placeholder already written must never be rewritten by a later rule (a user called "path").
PLACEHOLDER_NAMES = "URL|EMAIL|PATH|USER|HOST|IP|SECRET|REDACTED|TRUNCATED|UNSANITIZABLE"
_PLACEHOLDER = f"<(?:{PLACEHOLDER_NAMES})>"
PLACEHOLDER_LOWER = _PLACEHOLDER.lower()  # for patterns run on lower-cased text


class _OnUse:
    """A regular expression compiled the first time it is used, then exactly that pattern.

    The chain holds about a hundred expressions and compiling them is most of what importing
    the sanitizer costs (``re`` parses in Python); a run that scrubs only short, plain strings
    (an installer re-run) uses about a third of them, as the rules' speed hints skip the rest.
    A bound method taken before the first use (the engine keeps ``pattern.subn``) compiles on
    its first call; once compiled, the pattern's own methods are looked up directly.
    """

    _METHODS = ("subn", "sub", "search", "match", "fullmatch", "finditer", "findall")

    def __init__(self, source: str, flags: int = 0):
        self.pattern = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self._flags)
            for method in self._METHODS:  # instance attributes shadow the methods below
                setattr(self, method, getattr(self._compiled, method))
        return self._compiled

    def subn(self, repl: Any, string: str, count: int = 0) -> tuple[str, int]:
        return self.compiled().subn(repl, string, count)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return self.compiled().sub(repl, string, count)

    def search(self, string: str, *args: int) -> re.Match[str] | None:
        return self.compiled().search(string, *args)

    def match(self, string: str, *args: int) -> re.Match[str] | None:
        return self.compiled().match(string, *args)

    def fullmatch(self, string: str, *args: int) -> re.Match[str] | None:
        return self.compiled().fullmatch(string, *args)

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:
        return self.compiled().finditer(string, *args)

    def findall(self, string: str, *args: int) -> list[Any]:
        return self.compiled().findall(string, *args)

    def __getattr__(self, name: str) -> Any:  # groups, groupindex, flags, ...
        if name.startswith("__") or name == "_compiled":
            raise AttributeError(name)
        return getattr(self.compiled(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _OnUse):
            return (self.pattern, self._flags) == (other.pattern, other._flags)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.pattern, self._flags))

    def __repr__(self) -> str:
        return f"compile_on_use({self.pattern!r})"


def compile_on_use(source: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(source, flags)``, done when the pattern is first used (see :class:`_OnUse`)."""
    return cast("re.Pattern[str]", _OnUse(source, flags))


class _Pattern(Protocol):
    """What a rule needs from its pattern: ``re.Pattern.subn``."""

    def subn(self, repl: Any, string: str) -> tuple[str, int]: ...


def haystack(s: str) -> str | bytes:
    """A lower-cased copy of ``s``, one item per character, for case-insensitive needle search.

    ``str.lower`` is fast on ASCII text but about thirty times slower once a single non-ASCII
    character (a pip progress bar) makes the string wide; encoding with ``?`` for anything
    non-ASCII keeps one byte per character (positions still match) and ``bytes.lower`` folds
    ASCII only, which is all the needles need (a non-ASCII needle letter becomes ``?`` too).
    """
    if s.isascii():
        return s.lower()
    return s.encode("ascii", "replace").lower()


@functools.lru_cache(maxsize=256)
def compiled_trigger(source: str, kind: type) -> re.Pattern[Any]:
    """A lower-case trigger compiled for a ``str`` or a ``bytes`` haystack (ASCII sources)."""
    return re.compile(source.encode("ascii") if kind is bytes else source)


@functools.lru_cache(maxsize=256)
def literal_head(source: str) -> str:
    """The literal text a trigger regex starts with: a cheap ``in`` test before the search.

    A character followed by a quantifier (``ab?``) may be absent, so it is left out.
    """
    head = re.match(r"[A-Za-z0-9_-]*", source)
    text = head.group() if head else ""
    if text and source[len(text) : len(text) + 1] in ("?", "*", "{"):
        text = text[:-1]
    return text


def by_first_character(sources: Iterable[str]) -> tuple[str, ...]:
    """Trigger regexes grouped by their literal first character, one regex per character.

    ``("sk-", "secret_", "pypi-")`` becomes ``("s(?:k-|ecret_)", "p(?:ypi-)")``. Each trigger
    costs a scan of the text; the engine scans fast for a literal first character, and an
    alternation whose branches start differently loses that, so grouping keeps both: one fast
    scan per distinct first character instead of one per trigger. A source may start with an
    escaped character (``\\.``).
    """
    groups: dict[str, list[str]] = {}
    for source in sources:
        head = source[:2] if source.startswith("\\") else source[:1]
        groups.setdefault(head, []).append(source[len(head) :])
    return tuple(
        head + rests[0]
        if len(set(rests)) == 1
        else head + "(?:" + "|".join(sorted(set(rests), key=lambda r: (-len(r), r))) + ")"
        for head, rests in sorted(groups.items())
    )


@dataclass(frozen=True)
class Rule:
    """One step of the chain: ``pattern`` replaced by ``repl``, counted under ``kind``.

    ``repl`` must always change what it matched, so ``subn``'s count is the number of
    replacements. The rest only makes the rule cheaper and never changes its result:

    * ``needles`` (looked up in the lower-cased text when ``ci``), ``triggers`` (regexes with
      a literal first character, searched in the text) and ``hay_triggers`` (such regexes in
      lower case, searched in the lower-cased text; ``ci`` rules only) are *necessary*: with
      none of them present the rule cannot match. In a large text a ``line_local`` rule (its
      pattern never spans a newline) runs only on the lines holding a hit, unless
      ``whole_text`` says its own scan is cheaper (a literal first character, an anchor).
    * ``chars``: at least one of these characters occurs in every match; the cheapest test,
      used first on short strings.

    ``examples`` are texts the rule changes: documentation, and seeds for the property test
    that proves the hints above never change a result.
    """

    name: str
    kind: str
    pattern: _Pattern
    repl: str | Callable[[Any], str]
    needles: tuple[str, ...] = ()
    triggers: tuple[re.Pattern[str], ...] = ()
    hay_triggers: tuple[str, ...] = ()
    ci: bool = False
    line_local: bool = True
    whole_text: bool = False
    chars: frozenset[str] = frozenset()
    examples: tuple[str, ...] = ()

    def __call__(self, s: str) -> str:
        """The rule as a pure ``str -> str`` function."""
        return self.apply(s)[0]

    def apply(self, s: str, hay: str | bytes | None = None) -> tuple[str, int]:
        """Return ``(sanitized, replacements)``. ``hay`` may pass ``haystack(s)`` if known."""
        if len(s) < LINE_MODE_MIN:
            if self.chars and self.chars.isdisjoint(s):
                return s, 0
            if self.triggered and not self.may_match(s, s.lower() if self.ci else s):
                return s, 0
            return self.pattern.subn(self.repl, s)
        if not self.triggered or not self.line_local or self.whole_text:
            # no trigger, or a pattern whose own scan is as cheap as looking for the trigger
            return self.pattern.subn(self.repl, s)
        if self.ci and hay is None:
            hay = haystack(s)
        return self._apply_by_lines(s, hay if self.ci and hay is not None else s)

    @property
    def triggered(self) -> bool:
        """Does the rule carry any needle or trigger?"""
        return bool(self.needles or self.triggers or self.hay_triggers)

    def may_match(self, s: str, hay: str) -> bool:
        """Does a needle occur in ``hay`` (``s`` or its lower case) or a trigger in ``s``?"""
        for needle in self.needles:
            if needle in hay:
                return True
        for source in self.hay_triggers:
            if literal_head(source) in hay and compiled_trigger(source, str).search(hay):
                return True
        return any(literal_head(t.pattern) in s and t.search(s) is not None for t in self.triggers)

    def _candidate_lines(self, s: str, hay: str | bytes) -> list[tuple[int, int]]:
        """The ``[start, end)`` spans of the lines holding a hit; adjacent lines merged."""
        starts: set[int] = set()
        rfind, find = s.rfind, s.find
        for needle in self.needles:
            key: str | bytes = needle
            if isinstance(hay, bytes):
                key = needle.encode("ascii", "replace")
            i = hay.find(key)  # type: ignore[arg-type]
            while i != -1:
                starts.add(rfind("\n", 0, i) + 1)
                end = find("\n", i)
                if end == -1:
                    break
                i = hay.find(key, end)  # type: ignore[arg-type]
        searches: list[tuple[Any, str | bytes]] = [(t, s) for t in self.triggers]
        searches += [(compiled_trigger(src, type(hay)), hay) for src in self.hay_triggers]
        for trigger, text in searches:
            m = trigger.search(text)
            while m is not None:
                i = m.start()
                starts.add(rfind("\n", 0, i) + 1)
                end = find("\n", i)
                if end == -1:
                    break
                m = trigger.search(text, end)
        spans: list[tuple[int, int]] = []
        size = len(s)
        for start in sorted(starts):
            end = find("\n", start)
            end = size if end == -1 else end
            if spans and start == spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def _apply_by_lines(self, s: str, hay: str | bytes) -> tuple[str, int]:
        new, total, _ = self.apply_by_lines(s, hay, keep_haystack=False)
        return new, total

    def apply_by_lines(
        self, s: str, hay: str | bytes, *, keep_haystack: bool = True
    ) -> tuple[str, int, str | bytes | None]:
        """Run the pattern on the lines holding a hit; also return the updated ``hay``.

        Rebuilding the lower-cased haystack from its unchanged slices and the few new lines
        costs a copy, where lower-casing the whole text again would cost a full pass.
        """
        out: list[str] = []
        hay_out: list[Any] = []
        pos = total = 0
        subn, repl = self.pattern.subn, self.repl
        for start, end in self._candidate_lines(s, hay):
            new, n = subn(repl, s[start:end])
            if n:
                out.append(s[pos:start])
                out.append(new)
                if keep_haystack:
                    hay_out.append(hay[pos:start])
                    hay_out.append(
                        new.encode("ascii", "replace").lower()
                        if isinstance(hay, bytes)
                        else new.lower()
                    )
                pos = end
                total += n
        if not total:
            return s, 0, hay
        out.append(s[pos:])
        if not keep_haystack:
            return "".join(out), total, None
        hay_out.append(hay[pos:])
        joined = b"".join(hay_out) if isinstance(hay, bytes) else "".join(hay_out)
        return "".join(out), total, joined


class AnchoredPattern:
    """``subn`` for matches found from an anchor regex with a literal first character.

    A regex that may start at any letter (``[a-z][a-z0-9+.-]*://``, ``[A-Z]:\\\\``) costs work at
    every character of a long text; scanning for ``://`` or ``:\\\\`` is a fast substring search.
    At each anchor hit, ``back`` (searched in the ``window`` characters before the hit; it must
    end there, e.g. with ``\\Z``) finds where the match starts, and ``forward`` (matched at the
    hit, anchor included) where it ends. A hit where either fails is not a match. ``repl``
    must be a plain string.
    """

    def __init__(
        self,
        anchor: re.Pattern[str],
        forward: re.Pattern[str],
        back: re.Pattern[str] | None = None,
        window: int = 0,
    ) -> None:
        self.anchor = anchor
        self.forward = forward
        self.back = back
        self.window = window

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        search, back, match = self.anchor.search, self.back, self.forward.match
        out: list[str] = []
        pos = count = 0
        hit = search(string)
        while hit is not None:
            i = start = hit.start()
            if back is not None:
                head = back.search(string, max(pos, i - self.window), i)
                start = -1 if head is None else head.start()
            tail = match(string, i) if start >= 0 else None
            if tail is None:
                hit = search(string, i + 1)
                continue
            out.append(string[pos:start])
            out.append(repl)
            pos, count = tail.end(), count + 1
            hit = search(string, max(pos, i + 1))
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count


class _InOriginal:
    """A match found in the lower-cased text, read from the original (same positions)."""

    __slots__ = ("_match", "_string")

    def __init__(self, match: re.Match[str], string: str) -> None:
        self._match = match
        self._string = string

    def group(self, name: int | str = 0) -> str | None:
        start, end = self._match.span(name)
        return None if start < 0 else self._string[start:end]


class LowerCasePattern:
    """``subn`` that matches on the lower-cased string and replaces in the original.

    ``re.IGNORECASE`` folds case character by character and made the keyword alternations
    about ten times slower than plain literals; lower-casing a short segment costs next to
    nothing. The source must be written in lower case; what a callable ``repl`` keeps keeps its
    original case. Should lower-casing change the length (a few non-ASCII letters), the
    ``re.IGNORECASE`` twin runs instead, so the result never depends on the speed-up.
    """

    def __init__(self, source: str) -> None:
        self.lowered = compile_on_use(source)
        self.folded = compile_on_use(source, re.IGNORECASE)

    def subn(self, repl: str | Callable[[Any], str], string: str) -> tuple[str, int]:
        low = string.lower()
        if len(low) != len(string):
            return self.folded.subn(repl, string)
        out: list[str] = []
        pos = count = 0
        for m in self.lowered.finditer(low):
            start, end = m.span()
            out.append(string[pos:start])
            out.append(repl(_InOriginal(m, string)) if callable(repl) else repl)
            pos, count = end, count + 1
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count
