"""Secrets over several lines: a YAML block scalar under a secret-named key.

``password: |`` (or ``>``, ``|-``, ``>+``, ``|2``...) puts the value on the lines that follow,
indented deeper than the key's line. The whole block goes (one ``<SECRET>`` in place of its
text, at the indentation of its first line); the key and the indicator stay, as does whatever
follows the block at the key's depth or less. An empty block (the next line is not deeper)
holds nothing and is not counted. A key that only describes a secret (``password_hint: |``)
is judged by :func:`.secret_names.is_secret_key`, like every other key.

This is the one assignment shape whose value starts on another line, so it runs on the whole
text, before the line-by-line rules (:mod:`.assignments` leaves ``key: |`` to it).
"""

from __future__ import annotations

import re

from .rule import Rule
from .secret_names import is_secret_key

_HEADER = re.compile(
    r"(?m)^(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<q>[\"']?)(?P<name>[A-Za-z_][\w.-]{0,80})(?P=q)"
    r"[ \t]*:[ \t]+[|>][-+1-9]{0,2}[ \t]*(?:#[^\n]*)?\r?$"
)


class BlockScalarPattern:
    """``subn`` for ``key: |`` and the deeper-indented lines after it.

    Anchored on the indicator (``": |"``, ``": >"``: a literal scan); the header line is then
    matched from its start and the block read line by line, so the cost is linear.
    """

    _anchor = re.compile(r":[ \t]+[|>]")

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        out: list[str] = []
        pos = count = 0
        hit = self._anchor.search(string)
        while hit is not None:
            found = self._block(string, hit.start(), pos)
            if found is None:
                hit = self._anchor.search(string, hit.end())
                continue
            start, end = found
            out.append(string[pos:start])
            out.append(repl)
            pos, count = end, count + 1
            hit = self._anchor.search(string, end)
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count

    @staticmethod
    def _block(s: str, i: int, floor: int) -> tuple[int, int] | None:
        """The ``[start, end)`` of the block whose header holds the indicator at ``i``."""
        line_start = s.rfind("\n", floor, i) + 1 or floor
        header = _HEADER.match(s, line_start)
        if header is None or not is_secret_key(header.group("name")):
            return None
        depth = len(header.group("indent").expandtabs())
        size = len(s)
        p = header.end() + 1  # the line after the header
        start = end = -1
        while p < size:
            nl = s.find("\n", p)
            nl = size if nl == -1 else nl
            line = s[p:nl]
            text = line.lstrip(" \t")
            if text.strip():
                if len(line[: len(line) - len(text)].expandtabs()) <= depth:
                    break
                if start == -1:
                    start = p + len(line) - len(text)
                end = nl - 1 if line.endswith("\r") else nl
            p = nl + 1
        if start == -1:
            return None
        return start, end


SECRET_BLOCK = Rule(
    "secret_block",
    "secret",
    BlockScalarPattern(),
    "<SECRET>",
    triggers=(re.compile(r":[ \t]+[|>]"),),
    line_local=False,  # the value is on the lines after the key
    whole_text=True,
    chars=frozenset("|>"),
    examples=(
        "password: |\n  correct horse\n  battery staple\nuser: bob",
        "db:\n  - PRIVATE_KEY: >-\n      folded\n      value\n  host: x",
        'config:\n  "client_secret": |2\n    abc123\n\n    def456\nnext: 1',
    ),
)
"""A YAML block scalar (``key: |`` / ``key: >-``) under a secret-named key: the whole block."""
