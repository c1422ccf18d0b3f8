"""The engine: :class:`Sanitizer` runs a chain of rules over strings and nested values.

It owns what no single rule should know: the cache for short strings, the per-kind counts,
the fast paths (a character mask for short strings, line mode and blocks for large texts),
walking dicts, lists and tuples to any depth, and never raising.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .chain import default_rules
from .rule import LINE_MODE_MIN, Rule, compiled_trigger, haystack, literal_head
from .secret_names import is_secret_key

_logger = logging.getLogger(__name__)

KINDS = ("path", "user", "host", "url", "email", "ip", "secret", "term")
"""The kinds :attr:`Sanitizer.counts` reports."""

UNSANITIZABLE = "<UNSANITIZABLE>"
TRUNCATED = "<TRUNCATED>"
MAX_DEPTH = 64
"""Nesting deeper than this in :meth:`Sanitizer.value` becomes ``<TRUNCATED>``."""

_BLOCK = 256 * 1024  # large texts are sanitized in blocks of about this many characters
_CACHE_MAX_LEN = 512  # strings up to this length are cached (attribute values, messages)
_CACHE_SIZE = 4096


class Sanitizer:
    """Scrubs paths, names, hosts, URLs, e-mails, IPs and secrets from strings and structures.

    ``None`` for ``user``, ``home`` or ``host`` means *detect* the current one: the login name
    from ``getpass.getuser()`` and ``$USER``/``$USERNAME``/``$LOGNAME``, the home from
    ``Path.home()`` (and its real path), the host from ``socket.gethostname()`` and
    ``platform.node()`` (full and short form). ``extra_secrets`` are literal values to replace.
    ``terms`` are the user's own words to hide (``None``: the ``redact_terms`` of the config
    file, so every session, crash report, export and draft honours them). Those five build
    the default chain (:func:`default_rules`); ``rules`` passes a chain of your own instead
    (like structlog's ``processors=[...]``), applied in order. ``counts`` tells how many
    replacements of each kind (:data:`KINDS`) were made so far; the export prints a summary
    from it. Thread-safe; :meth:`text` and :meth:`value` never raise.
    """

    def __init__(
        self,
        *,
        rules: Iterable[Rule] | None = None,
        user: str | None = None,
        home: str | None = None,
        host: str | None = None,
        extra_secrets: Iterable[str] = (),
        terms: Iterable[str] | None = None,
    ) -> None:
        if rules is None:
            rules = default_rules(
                user=user, home=home, host=host, extra_secrets=extra_secrets, terms=terms
            )
        elif user is not None or home is not None or host is not None or extra_secrets or terms:
            raise TypeError("pass rules, or user/home/host/extra_secrets/terms for default_rules()")
        chain = tuple(rules)
        for rule in chain:
            if not isinstance(rule, Rule):
                raise TypeError(f"a sanitizer rule must be a Rule, not {type(rule).__name__}")
        self.rules: tuple[Rule, ...] = chain
        self._short_chain = tuple(
            (
                r.needles,
                tuple((literal_head(t.pattern), t) for t in r.triggers),
                tuple((literal_head(src), compiled_trigger(src, str)) for src in r.hay_triggers),
                r.ci,
                r.pattern.subn,
                r.repl,
                r.kind,
            )
            for r in self.rules
        )
        # Large texts: rules up to the last one whose pattern may span lines see the whole text.
        multi_line = [i for i, r in enumerate(self.rules) if not r.line_local]
        self._whole_text_lead = multi_line[-1] + 1 if multi_line else 0
        # Large texts: a rule updates the lower-cased haystack only if the next rule reads it.
        uses_hay = [r.ci and r.line_local and not r.whole_text and r.triggered for r in self.rules]
        self._keep_haystack = (*uses_hay[1:], False)
        self._char_masks: dict[str, int] = {}
        self._always_mask = 0
        for index, rule in enumerate(self.rules):
            if not rule.chars:
                self._always_mask |= 1 << index
            for ch in rule.chars:
                self._char_masks[ch] = self._char_masks.get(ch, 0) | 1 << index
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._sanitize)

    # -- public ------------------------------------------------------------------------------

    def text(self, s: str) -> str:
        """Sanitize one string. Never raises: on an internal error returns ``<UNSANITIZABLE>``."""
        try:
            if not isinstance(s, str):
                s = str(s)
            if not s:
                return s
            if len(s) <= _CACHE_MAX_LEN:
                out, found = self._cached(s)
            else:
                out, found = self._sanitize(s)
            if found:
                with self._lock:
                    for kind, n in found:
                        self.counts[kind] += n
            return out
        except Exception:
            _logger.debug("could not sanitize a string", exc_info=True)
            return UNSANITIZABLE

    def value(self, v: Any) -> Any:
        """Sanitize a value: dicts, lists and tuples are walked (keys too), strings scrubbed.

        Numbers, booleans and ``None`` stay. An entry whose key names a secret is dropped whole.
        Anything nested deeper than :data:`MAX_DEPTH` becomes ``<TRUNCATED>``, so a cyclic or
        10,000-deep structure cannot exhaust the stack. Never raises.
        """
        try:
            return self._walk(v, 0)
        except Exception:
            _logger.debug("could not sanitize a value", exc_info=True)
            return UNSANITIZABLE

    def reset_counts(self) -> None:
        """Start counting replacements afresh (e.g. per export)."""
        with self._lock:
            self.counts.clear()

    # -- internals ---------------------------------------------------------------------------

    def _walk(self, v: Any, depth: int) -> Any:
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, str):
            return self.text(v)
        if depth >= MAX_DEPTH:
            return TRUNCATED
        if isinstance(v, Mapping):
            out: dict[Any, Any] = {}
            dropped = 0
            for key, item in v.items():
                if isinstance(key, str):
                    if is_secret_key(key):
                        dropped += 1
                        continue
                    clean_key: Any = self.text(key)
                elif key is None or isinstance(key, (bool, int, float)):
                    clean_key = key
                else:
                    clean_key = self.text(key)
                    if is_secret_key(clean_key):
                        dropped += 1
                        continue
                out[clean_key] = self._walk(item, depth + 1)
            if dropped:
                with self._lock:
                    self.counts["secret"] += dropped
            return out
        if isinstance(v, list):
            return [self._walk(item, depth + 1) for item in v]
        if isinstance(v, tuple):
            return tuple(self._walk(item, depth + 1) for item in v)
        return self.text(v)  # str() happens inside text()'s guard

    def _sanitize(self, s: str) -> tuple[str, tuple[tuple[str, int], ...]]:
        """Run the chain; return the result and the per-kind counts (immutable, cacheable)."""
        found: dict[str, int] = {}
        if len(s) < LINE_MODE_MIN:
            s = self._sanitize_short(s, found)
        elif len(s) <= 2 * _BLOCK:
            s = self._sanitize_block(s, 0, found)
        else:
            # Rules whose pattern may span lines lead the chain and see the whole text; the
            # rest runs block by block (blocks end at a newline), so that each block, its
            # lower-cased copy and every rebuilt version of it stay in the CPU cache.
            lead = self._whole_text_lead
            if lead:
                s = self._sanitize_block(s, 0, found, stop=lead)
            blocks = []
            pos, size = 0, len(s)
            while pos < size:
                end = s.find("\n", pos + _BLOCK)
                end = size if end == -1 else end + 1
                blocks.append(self._sanitize_block(s[pos:end], lead, found))
                pos = end
            s = "".join(blocks)
        return s, tuple(found.items())

    def _sanitize_block(
        self, s: str, start: int, found: dict[str, int], stop: int | None = None
    ) -> str:
        """Run ``rules[start:stop]`` on a large text; the lower-cased haystack is shared."""
        hay_for: str | None = None
        hay: str | bytes | None = None
        chain = zip(self.rules[start:stop], self._keep_haystack[start:stop], strict=True)
        for rule, keep in chain:
            if rule.ci and rule.line_local and not rule.whole_text and rule.triggered:
                if hay_for is not s or hay is None:
                    hay = haystack(s)  # shared by consecutive case-insensitive rules
                s, n, hay = rule.apply_by_lines(s, hay, keep_haystack=keep)
                hay_for = s
            else:
                s, n = rule.apply(s)
            if n:
                found[rule.kind] = found.get(rule.kind, 0) + n
        return s

    def _sanitize_short(self, s: str, found: dict[str, int]) -> str:
        """The chain for a short string, inlined: this runs for every span attribute.

        The fast path: only rules one of whose characters (``Rule.chars``) occurs are looked at,
        found with one set intersection and a bit mask, so a plain value like ``comfyui`` or
        ``completed`` skips every rule. The characters are those of the input: placeholders
        added on the way cannot start a match.
        """
        masks = self._char_masks
        mask = self._always_mask
        for ch in masks.keys() & set(s):
            mask |= masks[ch]
        if not mask:
            return s
        chain = self._short_chain
        lowered_for: str | None = None
        lowered = s
        while mask:
            bit = mask & -mask
            mask ^= bit
            needles, triggers, hay_triggers, ci, subn, repl, kind = chain[bit.bit_length() - 1]
            if needles or triggers or hay_triggers:
                hay = s
                if ci:
                    if lowered_for is not s:
                        lowered, lowered_for = s.lower(), s
                    hay = lowered
                for needle in needles:
                    if needle in hay:
                        break
                else:
                    for head, trigger in hay_triggers:
                        if head in hay and trigger.search(hay):
                            break
                    else:
                        for head, trigger in triggers:
                            if head in s and trigger.search(s):
                                break
                        else:
                            continue
            s2, n = subn(repl, s)
            if n:
                s = s2
                found[kind] = found.get(kind, 0) + n
        return s
