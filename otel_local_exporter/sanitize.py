"""``Sanitizer``: every string that leaves the process is scrubbed here first (DESIGN section 7).

Privacy is the product, so the rule of thumb is *when unsure whether something could identify a
person, scrub it*. Span and event attributes, exception messages and stack traces, status
descriptions, crash reports and exports all pass through :meth:`Sanitizer.text` or
:meth:`Sanitizer.value`.

The work is an ordered chain of small :class:`Rule` objects, like structlog's processor chain:
each rule is a pure function ``str -> str`` (call it; :meth:`Rule.apply` also returns the number
of replacements), readable and testable on its own. The order is fixed in
:meth:`Sanitizer.__init__`; secrets go first so that nothing later can split or hide them:

1. ``extra_secrets``  literal values the caller names                     -> ``<SECRET>``
2. ``private_key``    PEM private key blocks                               -> ``<SECRET>``
3. ``secret_flag``    ``--token VALUE``, ``--hf-password 'x y'``            -> ``--token <SECRET>``
4. ``auth_header``    ``Authorization:``, ``Proxy-Authorization:``, ``Cookie:``, ``Set-Cookie:``
                      (the rest of the line)                               -> ``Cookie: <SECRET>``
5. ``secret_assignment``  ``KEY=value``, ``KEY: value``, ``"key": "value"``, ``'key': 'v'``
                      whose key names a secret; the key stays               -> ``KEY=<SECRET>``
6. ``auth_scheme``    ``Bearer <token>``, ``Basic <base64>``               -> ``Bearer <SECRET>``
7. ``known_tokens``   ``hf_``, ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``, ``github_pat_``,
                      ``sk-`` (``sk-proj-``...), ``AKIA``/``ASIA``, ``AIza``, ``pypi-``,
                      ``xox?-``, ``glpat-``, ``npm_``, JWTs                -> ``<SECRET>``
8. ``http_url``, ``url``  any ``scheme://...``, whole: user info, tokens, query -> ``<URL>``
9. ``scp_url``        ``git@host:org/repo.git``                            -> ``<URL>``
10. ``email``         ``name@domain``, also ``name@host``, ``name@1.2.3.4`` -> ``<EMAIL>``
11. ``windows_home``, ``windows_path``  ``C:\\...``, ``C:/...``, any drive -> ``<PATH>``
12. ``posix_path``    the user's own home wherever it is, anyone's ``/home/<n>`` and
                      ``/Users/<n>``, any absolute path outside system folders -> ``<PATH>``
13. ``backslash_path``  UNC ``\\\\server\\share``, drive-less ``\\Users\\<n>``  -> ``<PATH>``
14. ``home_relative_path``  ``~/x``, ``~bob/x``, ``$HOME/x``, ``%USERPROFILE%\\x``,
                      ``{Path.home()}/x``                                  -> ``<PATH>``
15. ``host``          the host name, full and short form, as a word         -> ``<HOST>``
16. ``user``          the login name, as a word, any case                   -> ``<USER>``
17. ``ipv6``          IPv6 (compressed, zone ids, v4-mapped) and MAC        -> ``<IP>``
18. ``ipv4``          four 0-255 octets                                     -> ``<IP>``

Design choices, and why:

* **Package tails stay.** A path keeps what follows a package root (``site-packages``,
  ``dist-packages``, ``node_modules``): ``<PATH>/site-packages/git/cmd.py`` says which library
  failed and nothing about who ran it. Relative paths (``models/checkpoints/x.safetensors``,
  ``./venv/lib``) stay; paths written through the home (``~/x``, ``$HOME/x``) do not.
* **System folders stay.** ``/usr``, ``/bin``, ``/lib*``, ``/etc``, ``/proc``, ``/sys``, ``/dev``,
  ``/opt/homebrew``, ``/opt/conda``, ``/nix/store``, ``/System``, ``/Library``, ``/Applications``
  hold no names, unless a ``home``/``Users`` folder appears below them. Every other absolute
  path of two or more parts (``/tmp/x``, ``/root/x``, ``/var/folders/...``, ``/api/v1``) and any
  drive path (``D:\\projects``) is scrubbed: conservative on purpose.
* **Host before user.** Host names often contain the login name (``alice-laptop``); replacing
  the host first keeps ``<HOST>`` rather than ``<USER>-laptop``.
* **Short and common user names.** The login name is replaced case-insensitively wherever it
  stands as a word. Names of three or more characters only need a non-alphanumeric character
  on each side, so ``alice_dev``, ``alice-laptop`` and ``alice.smith`` lose the name too;
  shorter names (``al``, ``jo``) must be a whole ``\\w`` word, or every identifier containing
  them would be shredded. Very common names (``dev``, ``mark``, and ``root`` when running as
  root) are still replaced: prose loses a word, the user keeps their privacy.
* **Hashes stay.** Long hex/base64 runs are *not* scrubbed: sha256 digests of models, git
  commit ids and trace ids are useful and identify no one. Secrets are found by their known
  prefixes or by the name of the key they are assigned to; a bare, unlabelled AWS secret key
  would pass, the accepted cost of keeping hashes.
* **IPs versus versions.** IPv4 needs exactly four dot-separated 0-255 octets that are not part
  of a longer dotted run or word: ``3.11.7``, ``v0.3.10``, ``1.45.2``, ``v1.2.3.4`` and
  ``1.2.3.4.5`` stay, while a bare ``1.2.3.4`` is ambiguous and scrubbed (privacy wins). IPv6
  needs eight groups or a ``::``, so times like ``12:30:45`` stay. MAC addresses are hardware
  ids and become ``<IP>`` too (counted as ``ip``).
* **Secret keys.** :meth:`Sanitizer.value` drops an entry whose key names a secret (token,
  password, passwd, passphrase, secret, api/access/private/... key, auth, authorization,
  credential, cookie, session, jwt). A following letter disqualifies (``author``,
  ``tokenizer``, ``AuthenticationError``). ``session_id`` is kept on purpose: in this project it
  is the documented trace id of a run (DESIGN section 6), not a web session cookie.

Speed: a 10 MB traceback/pip/git log must sanitize in a small multiple of ``json.dumps`` time,
and a span attribute in microseconds. Python's ``re`` only scans fast for a *literal* first
character, so every rule is written to have one (assertions come after it), is anchored on a
literal (``://``, ``:\\``), or carries cheap *triggers* that any match needs. A large text is
cut into blocks at newlines (no rule but ``private_key`` spans a newline, and it runs first on
the whole text) and a triggered rule runs only on the lines holding a hit. Short strings skip
every rule none of whose characters occur. Keyword rules match on lower-cased text instead of
``re.IGNORECASE`` (about ten times faster). Short strings are cached per instance together with
their per-kind counts. Every quantifier that could meet a long run is bounded, so no input costs
more than linear time.
"""

from __future__ import annotations

import collections
import functools
import getpass
import logging
import os
import platform
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_logger = logging.getLogger(__name__)

__all__ = ["KINDS", "MAX_DEPTH", "Rule", "Sanitizer", "is_secret_key"]

KINDS = ("path", "user", "host", "url", "email", "ip", "secret")
"""The kinds :attr:`Sanitizer.counts` reports."""

UNSANITIZABLE = "<UNSANITIZABLE>"
TRUNCATED = "<TRUNCATED>"
MAX_DEPTH = 64
"""Nesting deeper than this in :meth:`Sanitizer.value` becomes ``<TRUNCATED>``."""

_LINE_MODE_MIN = 2048  # from this length on, triggered rules run only on the lines with hits
_BLOCK = 256 * 1024  # large texts are sanitized in blocks of about this many characters
_CACHE_MAX_LEN = 512  # strings up to this length are cached (attribute values, messages)
_CACHE_SIZE = 4096

# A placeholder already written must never be rewritten by a later rule (a user called "path").
_PLACEHOLDER_NAMES = "URL|EMAIL|PATH|USER|HOST|IP|SECRET|TRUNCATED|UNSANITIZABLE"
_PLACEHOLDER = f"<(?:{_PLACEHOLDER_NAMES})>"
_PLACEHOLDER_LOWER = _PLACEHOLDER.lower()  # for patterns run on lower-cased text


class _Pattern(Protocol):
    """What a rule needs from its pattern: ``re.Pattern.subn``."""

    def subn(self, repl: Any, string: str) -> tuple[str, int]: ...


def _haystack(s: str) -> str | bytes:
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
def _compiled(source: str, kind: type) -> re.Pattern[Any]:
    """A lower-case trigger compiled for a ``str`` or a ``bytes`` haystack (ASCII sources)."""
    return re.compile(source.encode("ascii") if kind is bytes else source)


@functools.lru_cache(maxsize=256)
def _literal_head(source: str) -> str:
    """The literal text a trigger regex starts with: a cheap ``in`` test before the search."""
    head = re.match(r"[a-z0-9_-]*", source)
    return head.group() if head else ""


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

    def __call__(self, s: str) -> str:
        """The rule as a pure ``str -> str`` function."""
        return self.apply(s)[0]

    def apply(self, s: str, hay: str | bytes | None = None) -> tuple[str, int]:
        """Return ``(sanitized, replacements)``. ``hay`` may pass ``_haystack(s)`` if known."""
        if len(s) < _LINE_MODE_MIN:
            if self.chars and self.chars.isdisjoint(s):
                return s, 0
            if self.triggered and not self.may_match(s, s.lower() if self.ci else s):
                return s, 0
            return self.pattern.subn(self.repl, s)
        if not self.triggered or not self.line_local or self.whole_text:
            # no trigger, or a pattern whose own scan is as cheap as looking for the trigger
            return self.pattern.subn(self.repl, s)
        if self.ci and hay is None:
            hay = _haystack(s)
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
            if _literal_head(source) in hay and _compiled(source, str).search(hay):
                return True
        return any(trigger.search(s) for trigger in self.triggers)

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
        searches += [(_compiled(src, type(hay)), hay) for src in self.hay_triggers]
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
        self.lowered = re.compile(source)
        self.folded = re.compile(source, re.IGNORECASE)

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


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------

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
        r"(?!" + _PLACEHOLDER_LOWER + r")[^\r\n\"'\\]+"
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
        r"(?!-|" + _PLACEHOLDER_LOWER + r")(?P<v>\"[^\"\n]+\"|'[^'\n]+'|[^\s\"']+)"
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
        r"(?!\\?[\"']?" + _PLACEHOLDER_LOWER + r")"
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


# --------------------------------------------------------------------------------------------
# URLs and e-mail addresses
# --------------------------------------------------------------------------------------------

# Not \s: a category test per character is slower than a plain set, and a URL ends at the same
# places (ASCII blanks, NEL, no-break and other Unicode spaces, line separators) in practice.
_BLANKS = " \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_URL_CHAR = f"[^{_BLANKS}<>\"'`]"
_URL_BODY = _URL_CHAR + r"*(?:<[A-Z]+>" + _URL_CHAR + r"*)*(?<![.,;:!?)\]}])"

HTTP_URL = Rule(
    "http_url",
    "url",
    re.compile(r"h(?<![A-Za-z0-9+.-]h)ttps?://" + _URL_BODY),
    "<URL>",
    needles=("://",),
    whole_text=True,  # the literal first character makes the scan fast
    chars=frozenset(":"),
)
"""``http(s)://`` URLs, the bulk of them, in one fast regex pass."""

URL = Rule(
    "url",
    "url",
    AnchoredPattern(
        re.compile("://"),
        re.compile("://" + _URL_BODY),
        back=re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*\Z"),
        window=32,
    ),
    "<URL>",
    needles=("://",),
    whole_text=True,  # anchored on "://" already
    chars=frozenset(":"),
)
"""Any other ``scheme://`` URL (``git+https``, ``ssh``, ``s3``, ``postgres``...) as a whole, so
user info, tokens and query strings go with it."""

SCP_URL = Rule(
    "scp_url",
    "url",
    re.compile(
        r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*:"
        r"(?!\d+(?![\w/.~-]))(?=[\w~./-])[^\s\"'`<>]*(?<![.,;:!?)\]}])"
    ),
    "<URL>",
    needles=("@",),
    chars=frozenset("@"),
)
"""scp-style git remotes: ``git@github.com:org/repo.git``."""

_LOCAL = r"[\w.!#$%&*+?^~-]"
EMAIL = Rule(
    "email",
    "email",
    re.compile(
        r"(?<!" + _LOCAL + r")" + _LOCAL + r"+@"
        r"(?:(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"  # user@10.0.0.1
        r"|(?:[\w-]+\.)*[\w-]*[^\W\d_][\w-]*)"  # user@host, user@example.com
    ),
    "<EMAIL>",
    needles=("@",),
    chars=frozenset("@"),
)
"""E-mail addresses, and ``user@host`` forms (an ssh login names a person too)."""


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------

# A whole run of separators (JSON doubles them), bounded: a long run must not cost quadratic time.
_SEP = r"[/\\]{1,4}(?![/\\])"
_PKG = r"(?:site-packages|dist-packages|node_modules)"
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
    letters = set()
    needles = set()
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
            re.compile(r":[/\\]"),
            re.compile(":(?:" + "|".join(branches) + ")"),
            back=re.compile(r"(?<![\w.~>])[" + "".join(sorted(letters)) + r"]\Z"),
            window=1,
        ),
        "<PATH>",
        needles=tuple(sorted(needles)),
        ci=True,
        whole_text=True,
        chars=frozenset(":"),
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
        re.compile("/(?:" + "|".join(branches) + ")"),
        "<PATH>",
        needles=("/",),
        whole_text=True,  # "/" is everywhere; one pass with a literal-prefix scan is faster
        chars=frozenset("/"),
    )


POSIX_PATH = posix_path_rule()
"""Anyone's home folder, and other absolute paths that could hold a name (no own home)."""

WINDOWS_PATH = Rule(
    "windows_path",
    "path",
    AnchoredPattern(
        re.compile(r":[/\\]"),
        re.compile(_path_regex(":" + _SEP + _part(_WIN_C, True), _WIN_C, True)),
        back=re.compile(r"(?<!\w)[A-Za-z]\Z"),
        window=1,
    ),
    "<PATH>",
    needles=(":/", ":\\"),
    whole_text=True,  # anchored on ":/" and ":\\" already
    chars=frozenset(":"),
)
"""Any drive path (``C:\\Users\\Jane Doe\\x``, ``D:/projects/x``); ``C:\\`` alone stays."""

BACKSLASH_PATH = Rule(
    "backslash_path",
    "path",
    re.compile(
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
)
"""UNC paths (the server may be this host) and drive-less ``\\Users\\<name>``."""

HOME_RELATIVE_PATH = Rule(
    "home_relative_path",
    "path",
    re.compile(
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
)
"""Paths below a home written through it: ``~/x``, ``~bob/x``, ``$HOME/x``, ``%USERPROFILE%\\x``,
``{Path.home()}/x``. Below the home means private, whatever the folder is called."""


# --------------------------------------------------------------------------------------------
# Host, user
# --------------------------------------------------------------------------------------------


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
            rf"(?!(?<=<)(?:{_PLACEHOLDER_NAMES.lower()})>)(?:" + "|".join(alternatives) + ")"
        ),
        placeholder,
        needles=tuple(sorted({n.lower() for n in unique})),
        ci=True,
        chars=frozenset(c for n in unique for c in _rare_char_cases(n)),
    )


# --------------------------------------------------------------------------------------------
# IP addresses
# --------------------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|0?\d?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    r"(?:"
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,4}}:{_IPV4}"
    rf"|::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{_IPV4}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}}"
    r")(?:%[\w.-]+)?"
)
_MAC = r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"

IPV6 = Rule(
    "ipv6",
    "ip",
    re.compile(rf"(?<![\w:.-])(?:{_MAC}(?![\w-]|:[0-9A-Fa-f])|{_IPV6}(?![\w]|:[0-9A-Fa-f:]|\.\d))"),
    "<IP>",
    # IPv6 holds "::" or at least seven ":"; a MAC "hh:hh:hh:" or "hh-hh-hh-".
    triggers=(
        re.compile(r":(?::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)"),
        re.compile(r"-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-"),
    ),
    chars=frozenset(":-"),
)
"""IPv6 (full, compressed, ``::1``, ``fe80::1%eth0``, v4-mapped) and MAC addresses."""

IPV4 = Rule(
    "ipv4",
    "ip",
    re.compile(rf"(?<![\w.]){_IPV4}(?![\w]|\.\d)"),
    "<IP>",
    triggers=(re.compile(r"\.\d{1,3}\.\d{1,3}\.\d"),),
    chars=frozenset("."),
)
"""Four 0-255 octets, not inside a longer dotted run or word (``v1.2.3.4`` stays)."""


# --------------------------------------------------------------------------------------------
# Detection of the current user, home and host
# --------------------------------------------------------------------------------------------


def _detect_users() -> list[str]:
    names = []
    try:
        names.append(getpass.getuser())
    except Exception:
        _logger.debug("getpass.getuser() failed", exc_info=True)
    for var in ("USER", "USERNAME", "LOGNAME"):
        value = os.environ.get(var)
        if value:
            names.append(value)
    return names


def _detect_homes() -> list[str]:
    homes = []
    try:
        home = str(Path.home())
        homes.append(home)
        real = os.path.realpath(home)
        if real != home:
            homes.append(real)
    except Exception:
        _logger.debug("Path.home() failed", exc_info=True)
    return homes


_NOT_A_HOST = frozenset({"localhost", "localhost.localdomain", "localdomain", "(none)"})


def _detect_hosts() -> list[str]:
    hosts = []
    for probe in (socket.gethostname, platform.node):
        try:
            hosts.append(probe())
        except Exception:
            _logger.debug("host name probe failed", exc_info=True)
    return hosts


def _host_forms(hosts: Iterable[str]) -> list[str]:
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


# --------------------------------------------------------------------------------------------
# The sanitizer
# --------------------------------------------------------------------------------------------


class Sanitizer:
    """Scrubs paths, names, hosts, URLs, e-mails, IPs and secrets from strings and structures.

    ``None`` for ``user``, ``home`` or ``host`` means *detect* the current one: the login name
    from ``getpass.getuser()`` and ``$USER``/``$USERNAME``/``$LOGNAME``, the home from
    ``Path.home()`` (and its real path), the host from ``socket.gethostname()`` and
    ``platform.node()`` (full and short form). ``extra_secrets`` are literal values to replace.
    ``rules`` is the chain, in order. ``counts`` tells how many replacements of each kind
    (:data:`KINDS`) were made so far; the export prints a summary from it. Thread-safe;
    :meth:`text` and :meth:`value` never raise.
    """

    def __init__(
        self,
        *,
        user: str | None = None,
        home: str | None = None,
        host: str | None = None,
        extra_secrets: Iterable[str] = (),
    ) -> None:
        users = _detect_users() if user is None else [user]
        homes = _detect_homes() if home is None else [str(home)]
        hosts = _detect_hosts() if host is None else [host]
        chain = (
            literal_rule(extra_secrets),
            PRIVATE_KEY,
            SECRET_FLAG,
            AUTH_HEADER,
            SECRET_ASSIGNMENT,
            AUTH_SCHEME,
            KNOWN_TOKENS,
            HTTP_URL,
            URL,
            SCP_URL,
            EMAIL,
            windows_home_rule(homes),
            WINDOWS_PATH,
            posix_path_rule(homes),
            BACKSLASH_PATH,
            HOME_RELATIVE_PATH,
            name_rule("host", "host", "<HOST>", _host_forms(hosts)),
            name_rule("user", "user", "<USER>", users),
            IPV6,
            IPV4,
        )
        self.rules: tuple[Rule, ...] = tuple(r for r in chain if r is not None)
        self._short_chain = tuple(
            (
                r.needles,
                r.triggers,
                tuple((_literal_head(src), _compiled(src, str)) for src in r.hay_triggers),
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
        if len(s) < _LINE_MODE_MIN:
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
                    hay = _haystack(s)  # shared by consecutive case-insensitive rules
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
                        for trigger in triggers:
                            if trigger.search(s):
                                break
                        else:
                            continue
            s2, n = subn(repl, s)
            if n:
                s = s2
                found[kind] = found.get(kind, 0) + n
        return s
