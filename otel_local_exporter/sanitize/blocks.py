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

from .assignments import holds_nothing
from .rule import PLACEHOLDER_NAMES, Rule, compile_on_use
from .secret_names import is_secret_key

_HEADER = compile_on_use(
    r"(?m)^(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<q>[\"']?)(?P<name>[A-Za-z_][\w.-]{0,80})(?P=q)"
    r"[ \t]*:[ \t]+[|>][-+1-9]{0,2}[ \t]*(?:#[^\n]*)?\r?$"
)


class BlockScalarPattern:
    """``subn`` for ``key: |`` and the deeper-indented lines after it.

    Anchored on the indicator (``": |"``, ``": >"``: a literal scan); the header line is then
    matched from its start and the block read line by line, so the cost is linear.
    """

    _anchor = compile_on_use(r":[ \t]+[|>]")

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
    triggers=(compile_on_use(r":[ \t]+[|>]"),),
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


class XmlBlockPattern:
    """``subn`` for ``<apiToken>`` on one line, the value on the next ones, then ``</apiToken>``.

    The one-line form is :mod:`.assignments`' job; this one spans lines, so it runs on the whole
    text. The value may not hold a ``<`` and is read at most 4096 characters far (linear cost);
    the blanks around it stay, so the element keeps its layout: ``<apiToken>\\n  <SECRET>\\n``.
    """

    _element = compile_on_use(
        r"<(?P<name>[A-Za-z_][\w.:-]{0,80})(?:[ \t][^<>\n]{0,200})?>"
        r"(?P<value>[ \t]*\r?\n[^<]{1,4096})</(?P=name)[ \t]*>"
    )

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        out: list[str] = []
        pos = count = 0
        for m in self._element.finditer(string):
            if not is_secret_key(m.group("name").rsplit(":", 1)[-1]):
                continue
            value = m.group("value")
            inner = value.strip()
            if not inner or holds_nothing(inner, m.group("name"), "=") or "<" in inner:
                continue
            start = m.start("value") + len(value) - len(value.lstrip())
            out.append(string[pos:start])
            out.append(repl)
            pos, count = start + len(inner), count + 1
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count


SECRET_XML_BLOCK = Rule(
    "secret_xml_block",
    "secret",
    XmlBlockPattern(),
    "<SECRET>",
    needles=("</",),
    line_local=False,  # the value is on the lines between the tags
    whole_text=True,
    chars=frozenset("<"),
    examples=(
        "<apiToken>\n    9f2cab31d4e5\n</apiToken>\n<name>\n  keep me\n</name>",
        '<settings>\n  <ns:password type="x">\n\tcorrect horse\n  </ns:password>\n</settings>',
    ),
)
"""An XML/HTML element named like a secret whose value stands on its own lines."""


_SECRET_KIND = compile_on_use(
    r"(?m)^[ \t]*[\"']?kind[\"']?[ \t]*:[ \t]*[\"']?Secret[\"']?[ \t]*\r?$"
)
_DATA_HEADER = compile_on_use(r"(?m)^(?P<indent>[ \t]*)(?:data|stringData)[ \t]*:[ \t]*\r?$")
_PLACEHOLDER = compile_on_use(r"[\"']?<(?:" + PLACEHOLDER_NAMES + r")>")
_DOCUMENT_SPAN = 8192  # how far a manifest's "kind: Secret" is looked for around "data:"


class KubernetesSecretPattern:
    """``subn`` for the values under ``data:`` / ``stringData:`` of a Kubernetes ``Secret``.

    The names of a Secret's entries are the user's own (``username``, ``.dockerconfigjson``,
    ``tls.crt``), so every value goes, whatever its key is called, as long as the same YAML
    document (between ``---`` lines, within 8 KiB) says ``kind: Secret``; a ``ConfigMap``'s
    ``data:`` stays. Each value is replaced on its own (the keys stay); a block scalar
    (``key: |``) loses its deeper lines.
    """

    _anchor = compile_on_use(r"ata[ \t]*:")
    _entry = compile_on_use(
        r"(?P<key>[^\s:#][^:\n]{0,200}?:)(?:[ \t]+(?P<value>[^\n]*?))?[ \t]*\r?$"
    )

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        spans: list[tuple[int, int]] = []
        floor = 0
        hit = self._anchor.search(string)
        while hit is not None:
            line_start = string.rfind("\n", floor, hit.start()) + 1 or floor
            header = _DATA_HEADER.match(string, line_start)
            if header is not None and self._in_a_secret(string, line_start):
                floor = self._values(string, header, spans)
                hit = self._anchor.search(string, floor)
            else:
                hit = self._anchor.search(string, hit.end())
        if not spans:
            return string, 0
        out: list[str] = []
        pos = 0
        for start, end in spans:
            out.append(string[pos:start])
            out.append(repl)
            pos = end
        out.append(string[pos:])
        return "".join(out), len(spans)

    @staticmethod
    def _in_a_secret(s: str, i: int) -> bool:
        head = max(0, i - _DOCUMENT_SPAN)
        begin = s.rfind("\n---", head, i)
        begin = head if begin == -1 else begin + 4
        end = s.find("\n---", i, i + _DOCUMENT_SPAN)
        end = min(len(s), i + _DOCUMENT_SPAN) if end == -1 else end
        return _SECRET_KIND.search(s, begin, end) is not None

    def _values(self, s: str, header: re.Match[str], spans: list[tuple[int, int]]) -> int:
        """Add the spans of the values below ``header``; return where the entries end."""
        depth = len(header.group("indent").expandtabs())
        size = len(s)
        p = header.end() + 1
        child = -1
        while p < size:
            nl = s.find("\n", p)
            nl = size if nl == -1 else nl
            line = s[p:nl]
            text = line.lstrip(" \t")
            if text.strip() and not text.startswith("#"):
                indent = len(line[: len(line) - len(text)].expandtabs())
                if indent <= depth:
                    return p
                child = indent if child == -1 else child
                start = p + len(line) - len(text)
                end = nl - 1 if line.endswith("\r") else nl
                while end > start and s[end - 1] in " \t":
                    end -= 1
                if s.startswith("<", start) and _PLACEHOLDER.match(s, start, end):
                    pass  # already written by an earlier rule
                elif indent > child:  # a line of a block scalar
                    spans.append((start, end))
                else:
                    entry = self._entry.match(s, start, nl)
                    value = entry.group("value") if entry is not None else None
                    if (
                        value
                        and value[0] not in "|>"
                        and not _PLACEHOLDER.search(value)
                        and not holds_nothing(value, "", ":")
                    ):
                        v_start = entry.start("value") if entry is not None else start
                        if value[0] in "\"'" and len(value) > 1 and value[-1] == value[0]:
                            v_start, end = v_start + 1, v_start + len(value) - 1
                        if end > v_start:
                            spans.append((v_start, end))
            p = nl + 1
        return size


SECRET_KUBERNETES = Rule(
    "secret_kubernetes",
    "secret",
    KubernetesSecretPattern(),
    "<SECRET>",
    triggers=(compile_on_use(r"ata[ \t]*:"),),
    line_local=False,  # "kind: Secret" and the values are on different lines
    whole_text=True,
    chars=frozenset(":"),
    examples=(
        "apiVersion: v1\nkind: Secret\ndata:\n  username: YWRtaW4=\n  tls.key: |\n    LS0t\n",
        "kind: ConfigMap\ndata:\n  port: '8188'\n---\nkind: Secret\nstringData:\n  x: 'a b'\n",
    ),
)
"""Every value under ``data:``/``stringData:`` in a Kubernetes ``Secret`` manifest."""
