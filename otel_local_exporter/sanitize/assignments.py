"""Secrets by their name: a secret-named key and the value given to it, in any shape people write.

The grammar (the vocabulary of names is :mod:`.secret_names`):

* **key**: a name (``HF_TOKEN``, ``apiToken``, ``db.password``, ``x-api-key``, ``--password``),
  bare or quoted (``"token"``, ``'token'``, ``\\"token\\"``), in a subscript
  (``os.environ["HF_TOKEN"]``, ``$_ENV['DB_PASS']``) or an XML tag (``<password>``);
* **operator**: ``=``, ``:``, ``:=``, ``::=``, ``=>``, ``?=``, ``+=``, ``.=``, ``==``, ``!=``,
  ``<-`` (and ``===``, ``!==``, ``??=``, ``||=``), after an optional type (``api_key: str =``,
  ``var apiKey string =``); or a call that pairs a quoted name with a value
  (``setProperty("X_TOKEN", v)``, ``os.environ.setdefault(...)``, ``putenv``, ``setItem``...);
  or, without an operator, a command that sets a variable (``setx``, ``setenv``, ``set -x``,
  ``Set-Item Env:``, a Dockerfile's ``ENV``) or a ``--flag`` naming a secret;
* **value**: a quoted value ends at its closing quote (backslash escapes honoured; only the
  inside is replaced, so ``token="<SECRET>"`` keeps its quotes); an unquoted one ends at the end
  of the line for ``KEY: value`` (YAML) and ``key = value`` (INI) at the start of a line, and
  for a whole line ``KEY=value`` (a ``.env`` line) unless a command follows its first word
  (``HF_TOKEN=x python run.py``: :func:`.values.runs_a_command` says how that is judged);
  otherwise at whitespace, as a shell word: quoted parts inside it (``kevin:'a b'``), ``=`` and
  brackets (``auth=("u", "p")``) belong to it; ``,;&|<>`` or an unopened ``)]}`` end it. A YAML
  block (``password: |`` and the lines after it) is :mod:`.blocks`' job.

Values that hold nothing stay and are not counted: empty, a placeholder already written,
``None``/``null``/``true``/``false``/``undefined``, masks (``****``), a type after ``:``
(``api_key: str``), a version after ``==`` (a pin: ``secretstorage==3.3.3``), and a reference
to a variable of the same name (``api_key=api_key``, ``token=self.token``), and code that says
where a secret comes from (``token = get_token()``, ``password = os.environ["DB_PASSWORD"]``,
``session = requests.Session()``: :func:`.values.is_code`; a literal inside, as in
``get_token("x")``, still makes it a value). Obviously fake
values (``changeme``, ``xxxx``, ``<your-token>``) are replaced like real ones: a rule cannot
tell a fake from a weak password.

:data:`SECRET_SIBLING` covers a name and its value in sibling fields (``{"name": "API_KEY",
"value": "..."}``, Kubernetes ``- name: API_KEY`` / ``value: ...`` on the next line, ``<add
key="ApiKey" value="..."/>``, also value first: ``{"Value": v, "Name": K}``);
:data:`SECRET_FLAG` the command-line credentials that are not
``--name value`` (``curl -u user:pass``, ``mysql -pS3cr3t``, ``-p 'x y'``).
"""

from __future__ import annotations

import re
import string as _string

from .rule import PLACEHOLDER_NAMES, LowerCasePattern, Rule, by_first_character, compile_on_use
from .secret_names import is_secret_key
from .tokens import TOKEN_PATTERN
from .values import is_code, runs_a_command, token_then_prose

STEMS = (
    "token",
    "pass",
    "pw",
    "cred",
    "secret",
    "private",
    "signing",
    "salt",
    "dsn",
    "auth",
    "cookie",
    "jwt",
    "session",
    "key",
    "contribsys",
    "contrase",
)
"""Every secret name holds one of these (lower case): the rule's needles, tested to be true."""

FLAG_ONLY_NAMES = frozenset({"key"})
"""Not a secret as a dict key, but a secret as a ``--flag``."""

KEEP_VALUES = frozenset({"none", "null", "nil", "true", "false", "undefined", "[]", "{}", "()"})
TYPE_NAMES = frozenset({"str", "string", "bytes", "int", "bool", "secretstr", "any", "object"})

_IDENT = frozenset(_string.ascii_letters + _string.digits + "_.-ñÑ")  # contraseña
_STEM = compile_on_use("|".join(STEMS))
_ASCII_LOWER = str.maketrans(_string.ascii_uppercase, _string.ascii_lowercase)
_PLACEHOLDER_AT = compile_on_use(r"\\*[\"'`]?<(?:" + PLACEHOLDER_NAMES + ")>")
_NAME = compile_on_use(r"[A-Za-z_][\w.-]*")
_PLACEHOLDER_WORDS = frozenset(PLACEHOLDER_NAMES.split("|"))
_SCHEME_AT = compile_on_use(r"(?i:bearer|basic|token|digest)[ \t]+(?=[^\s\"'])")
_QUOTE_AT = compile_on_use(r"\\*[\"'`]")
_TYPE = r"[&*]?[A-Za-z_][\w.]*(?:\[[^\]\n]{0,40}\]|<[^>\n]{0,40}>)?\??"
_OPERATOR = compile_on_use(
    r"(?:[ \t]*:[ \t]*" + _TYPE + r"[ \t]*(?==(?![=>~]))|[ \t]+" + _TYPE + r"[ \t]*(?==(?![=>~])))?"
    r"(?P<sp>[ \t]*)"
    r"(?P<op>[:?+!]{2,4}=(?!=)|:=|=>|===|!==|==|!=|\?\?=|\|\|=|[?+.|&]=|<-|=(?!~)|:(?![:/\\]))"
)
_CONDITION_BEFORE = compile_on_use(r"(?<![\w.])(?:if|elif|while|not|and|or|lambda|else)[ \t]+\Z")
_CALL_COMMA = compile_on_use(r"[ \t]*,[ \t]*")
_COMMAND_BEFORE = compile_on_use(
    r"(?:(?:^|[\s;&|(])(?i:setx|setenv|set[ \t]+-[a-z]+|set-item(?:[ \t]+-path)?[ \t]+env:"
    r"|new-item(?:[ \t]+-path)?[ \t]+env:|sv[ \t]+env:)[ \t]*|^[ \t]*ENV[ \t]+)\Z",
    re.M,
)
_COMMAND_GAP = compile_on_use(r"[ \t]+(?:-[Vv]alue[ \t]+)?")
_XML_OPEN_END = compile_on_use(r"(?:[ \t][^<>\n]{0,200})?>")
_WORD_END = frozenset(" \t\r\n\f\v,;&|<>")


def _ascii_lower(s: str) -> str:
    """Lower case that never changes the length (positions stay valid)."""
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def _line_end(s: str, i: int) -> int:
    end = s.find("\n", i)
    end = len(s) if end == -1 else end
    return end - 1 if end > i and s[end - 1] == "\r" else end


def _window_start(s: str, i: int, width: int) -> int:
    """The start of ``i``'s line, or ``i - width`` if the line started before that."""
    floor = max(0, i - width)
    newline = s.rfind("\n", floor, i)
    return floor if newline == -1 else newline + 1


def _starts_line(s: str, i: int) -> bool:
    """Is ``s[:i]`` on its line only blanks, or a YAML list dash (``  - ``)?"""
    j, floor = i, max(0, i - 200)
    while j > floor and s[j - 1] in " \t":
        j -= 1
    if j > floor and s[j - 1] == "-":
        j -= 1
        while j > floor and s[j - 1] in " \t":
            j -= 1
    return j == 0 or s[j - 1] == "\n"


def _closing_quote(s: str, start: int, quote: str, stop: int) -> int:
    """Where ``quote`` (one character, or backslashes and one) closes; ``stop`` if it does not."""
    k = start
    while True:
        k = s.find(quote, k, stop)
        if k == -1:
            return stop
        if len(quote) > 1:
            return k
        slashes = 0
        while k - slashes - 1 >= start and s[k - slashes - 1] == "\\":
            slashes += 1
        if slashes % 2 == 0:
            return k
        k += 1


_VERSION = compile_on_use(r"[0-9]+(?:\.[0-9]+)+[A-Za-z0-9.+-]*")
_PLAIN_RUN = compile_on_use(r"[^\s\"'`\\()\[\]{},;&|<>]+")


def _shell_word_end(s: str, i: int, stop: int) -> int:
    """The end of a shell-like word: quoted parts and bracketed groups belong to it."""
    depth = 0
    plain = _PLAIN_RUN.match
    while i < stop:
        run = plain(s, i, stop)
        if run is not None:
            i = run.end()
            continue
        c = s[i]
        if c in "\"'`":
            close = _closing_quote(s, i + 1, c, stop)
            i = close + 1 if close < stop else stop
        elif c == "\\":
            i += 2
        elif c in "([{":
            depth += 1
            i += 1
        elif c in ")]}":
            if not depth:
                break
            depth -= 1
            i += 1
        elif c in _WORD_END and (not depth or c in "\r\n"):
            break
        else:
            i += 1
    return min(i, stop)


def _sets(op: str) -> bool:
    """Does ``op`` set a variable (``=``; Make's ``:=``, ``::=``, ``:::=``, ``?=``, ``+=``)?"""
    return op == "=" or (
        len(op) >= 2 and op[-1] == "=" and not op.strip(":?+!=") and "==" not in op
    )


def _value_end(s: str, p: int, stop: int) -> int:
    """Where a whole-line value that starts at ``p`` ends: the line's end, blanks trimmed, or
    the end of its first word when that word is one token and prose follows it
    (``HF_TOKEN=hf_... was rejected by the hub (401)``: :func:`.values.token_then_prose`)."""
    end = stop
    while end > p and s[end - 1] in " \t":
        end -= 1
    token = token_then_prose(s[p:end])
    return end if token is None else p + token


def holds_nothing(value: str, name: str, op: str, *, quoted: bool = True) -> bool:
    """Values that reveal nothing: left in place and not counted.

    An unquoted value may also be code that says where a secret comes from (``get_token()``);
    inside quotes the same text is a literal, and a literal is a value.
    """
    v = value.strip()
    low = v.lower()
    if not v or low in KEEP_VALUES or set(v) == {"*"}:
        return True
    if (op == ":" and low in TYPE_NAMES) or (op == "==" and _VERSION.fullmatch(v)):
        return True  # api_key: str; a pinned package: secretstorage==3.3.3
    if not quoted and is_code(v):
        return True
    tail = name.rsplit(".", 1)[-1].lstrip("$@-").lower()
    ref = low.rsplit(".", 1)[-1]
    return bool(tail) and ref == tail and re.fullmatch(r"[a-z_$@][\w.$@]*", low) is not None


class AssignmentPattern:
    """``subn`` for the grammar above: find secret names, then parse what is given to them.

    Candidate names are found by their stems in the lower-cased text; each is grown to the whole
    name and judged by :func:`is_secret_key`, and only then is the text after it parsed, so the
    cost is a regex scan plus a little Python per candidate. ``repl`` must be a plain string.
    """

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        low = _ascii_lower(string)
        out: list[str] = []
        pos = count = 0
        size = len(string)
        stop = -1
        hit = _STEM.search(low)
        while hit is not None:
            a, b = hit.start(), hit.end()
            while a > pos and string[a - 1] in _IDENT:
                a -= 1
            while b < size and string[b] in _IDENT:
                b += 1
            if b > stop:  # hits come in order: each line end is searched for once
                stop = _line_end(string, b)
            found = self._value(string, a, b, stop)
            if found is None:
                hit = _STEM.search(low, b)
                continue
            start, end = found
            out.append(string[pos:start])
            out.append(repl)
            pos = end
            count += 1
            hit = _STEM.search(low, max(end, b))
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count

    def _value(self, s: str, a: int, b: int, stop: int) -> tuple[int, int] | None:
        """The ``[start, end)`` of the value given to the name ``s[a:b]``; ``stop``: line end."""
        raw = s[a:b]
        core = raw.lstrip("-.")
        dashes = len(raw) - len(raw.lstrip("-"))
        a += len(raw) - len(core)
        core = core.rstrip(".-")
        b = a + len(core)
        if not core:
            return None
        if a and s[a - 1] == "<" and s.startswith(">", b) and core in _PLACEHOLDER_WORDS:
            return None  # a placeholder already written: <SECRET>
        token = TOKEN_PATTERN.match(s, a)
        if token is not None and token.end() > b:  # pscale_pw_x=y: a token, not a name
            return a, token.end()
        flag = dashes == 2
        if not (is_secret_key(core) or (flag and core.lower() in FLAG_ONLY_NAMES)):
            return None
        quote = ""
        if a - dashes > 0 and s[a - dashes - 1] in "\"'`":
            first = a - dashes - 1
            while first > 0 and s[first - 1] == "\\":
                first -= 1
            quote = s[first : a - dashes]
        p = b
        if quote and s.startswith(quote, p):
            p += len(quote)
        if p < stop and s[p] == "]":
            p += 1
        if a > 0 and s[a - 1] == "<" and not quote:  # <password>value</password>
            tag = _XML_OPEN_END.match(s, p, stop)
            if tag is None:
                return None
            start = tag.end()
            end = s.find("<", start, stop)
            end = stop if end == -1 else end
            return self._checked(s, start, end, core, "")
        op = ""
        m = _OPERATOR.match(s, p, stop)
        if m is not None:
            typed = s[p : m.start("sp")]
            type_at = p + len(typed) - len(typed.lstrip(" \t:"))
            if typed and TOKEN_PATTERN.match(s, type_at) is not None:
                return None  # "token pscale_pw_x=y": a token, not a typed declaration
            op, p = m.group("op"), m.end()
            if op == ":" and _CONDITION_BEFORE.search(s, max(0, a - dashes - 12), a - dashes):
                return None  # if not token: ... is code, not a YAML pair
        elif quote and s[max(0, a - 40) : a - dashes - len(quote)].rstrip(" \t")[-1:] in ("(", ","):
            m = _CALL_COMMA.match(s, p, stop)
            if m is None:
                return None
            op, p = ",", m.end()
        elif flag or _COMMAND_BEFORE.search(s, _window_start(s, a, 80), a - dashes):
            m = _COMMAND_GAP.match(s, p, stop)
            if m is None or s.startswith("-", m.end()):
                return None
            op, p = " ", m.end()
        else:
            return None
        while p < stop and s[p] in " \t":
            p += 1
        if p >= stop or _PLACEHOLDER_AT.match(s, p):
            return None
        q = _QUOTE_AT.match(s, p)
        if q is not None:
            opening = q.group()
            start = q.end()
            closing = opening if len(opening) > 1 else opening[-1]
            end = _closing_quote(s, start, closing, stop)
            if op == "," and _NAME.fullmatch(s, start, end) and is_secret_key(s[start:end]):
                return None  # set('auth', 'password', v): the next name takes the value
            return self._checked(s, start, end, core, op)
        spaced = m is not None and _sets(op) and bool(m.group("sp")) and s[p - 1] in " \t"
        if not flag and (op == ":" or spaced) and _starts_line(s, a - dashes - len(quote)):
            if s[p] in "|>":  # a YAML block: the value is on the next lines
                return None
            return self._checked(s, p, _value_end(s, p, stop), core, op, quoted=False)
        scheme = _SCHEME_AT.match(s, p, stop)  # TOKEN=Bearer abc: the credential is the next word
        word_start = scheme.end() if scheme is not None else p
        end = _shell_word_end(s, word_start, stop)
        whole_line = _sets(op) and not flag and not quote and _starts_line(s, a - dashes)
        if whole_line and end < stop and not runs_a_command(s[end:stop]):
            end = _value_end(s, p, stop)  # a whole line NAME=value with no command after it
        return self._checked(s, p, end, core, op, quoted=False)

    @staticmethod
    def _checked(
        s: str, start: int, end: int, name: str, op: str, *, quoted: bool = True
    ) -> tuple[int, int] | None:
        if end <= start or holds_nothing(s[start:end], name, op, quoted=quoted):
            return None
        return start, end


SECRET_ASSIGNMENT = Rule(
    "secret_assignment",
    "secret",
    AssignmentPattern(),
    "<SECRET>",
    hay_triggers=by_first_character(STEMS),
    ci=True,
    # an operator, the call's comma, the gap of a command or flag, or an XML tag's ">"
    chars=frozenset("=:,<> \t"),
    examples=(
        "HF_TOKEN=abc123 export GITHUB_TOKEN=xyz",
        'apiToken := "9f2c1b"; if api_key == "9f2c1b": pass',
        '"token" => "abc", KEY ?= x, $password .= "y", api_key <- "z"',
        'System.setProperty("X_TOKEN", "v1"); os.environ["CIVITAI_TOKEN"] = "v2"',
        "os.environ.setdefault('CIVITAI_API_KEY', 'v3'); var apiKey string = \"v4\"",
        "<password>hunter2</password> password: correct horse battery",
        "curl --token abc --api-key=def -H 'X-Api-Key: ghi' setx API_KEY jkl",
        "Set-Item Env:OPENAI_API_KEY 'mno' && MAILGUN_KEY=pqr db_pass=s cloudant_pw=t",
        "session_id=keep tokenizer: fast author=me max_tokens=512 api_key=api_key",
    ),
)
"""A secret-named key and the value given to it (see the module docstring)."""


def _names_secret(field: str) -> bool:
    """A name field's value: ``API_KEY``, or a parameter path such as ``/app/db_password``."""
    return is_secret_key(field.rstrip("/").rsplit("/", 1)[-1])


_FIELDS = r"(?i:name|key|parameterkey|variable|var|env)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?"


class SiblingPattern:
    """``subn`` for a value field whose sibling names a secret: ``{"name": "X_TOKEN", "value": v}``.

    Anchored on ``alue`` (a fast literal scan). The name field is looked for first before the
    value (240 characters, within the same object: no ``{``, ``}`` between, at most one line
    up, and not across a YAML ``- `` that starts a new item); if there is none, after it (the
    rest of the line, or the next line at the value field's own indentation: ``{"value": v,
    "name": "API_KEY"}``, ``- value: v`` then ``  name: API_KEY``). A name field found before
    decides alone, so ``- name: PORT`` / ``value: 8188`` never borrows the next item's name.
    """

    _anchor = compile_on_use("alue")
    _op = compile_on_use(r"alue\\?[\"']?[ \t]*(?P<op>[:=])[ \t]*")
    _name = compile_on_use(_FIELDS + r"(?P<n>[\w./-]+)\\?[\"']?[^{}\n]*(?P<nl>\n[^{}\n]*)?\Z")
    _name_after = compile_on_use(r"(?<![\w-])" + _FIELDS + r"(?P<n>[\w./-]+)")
    _new_item = compile_on_use(r"[ \t]*-[ \t]")

    def subn(self, repl: str, string: str) -> tuple[str, int]:
        out: list[str] = []
        pos = count = 0
        stop = -1
        hit = self._anchor.search(string)
        while hit is not None:
            if hit.start() > stop:  # each line end is searched for once
                stop = _line_end(string, hit.start())
            found = self._value(string, hit.start(), pos, stop)
            if found is None:
                hit = self._anchor.search(string, hit.end())
                continue
            start, end = found
            out.append(string[pos:start])
            out.append(repl)
            pos, count = end, count + 1
            hit = self._anchor.search(string, max(end, hit.end()))
        if not count:
            return string, 0
        out.append(string[pos:])
        return "".join(out), count

    def _value(self, s: str, i: int, floor: int, stop: int) -> tuple[int, int] | None:
        op = self._op.match(s, i, stop)
        if op is None or not i or s[i - 1] not in "vV":
            return None
        head = max(floor, i - 40)
        field_start = i - 1
        while field_start >= head and s[field_start] in _IDENT:
            field_start -= 1
        window = max(0, field_start - 240)  # bounded: a long line costs linear time
        newline = s.rfind("\n", window, field_start + 1)
        line_start = newline + 1 if newline != -1 else (0 if window == 0 else -1)  # -1: far
        name = self._name.search(s, max(floor, field_start - 240), field_start + 1)
        if name is not None and name.group("nl") and self._new_item.match(s, line_start):
            name = None  # "- value: v" starts a new item: the name above belongs to another
        if name is not None and not _names_secret(name.group("n")):
            return None
        p = op.end()
        if p >= stop or _PLACEHOLDER_AT.match(s, p):
            return None
        q = _QUOTE_AT.match(s, p)
        if q is not None:
            opening = q.group()
            start = q.end()
            closing = opening if len(opening) > 1 else opening[-1]
            end = _closing_quote(s, start, closing, stop)
        else:
            start = p
            quoted = field_start >= 0 and s[field_start] in "\"'"
            if op.group("op") == ":" and not quoted and _starts_line(s, field_start + 1):
                end = stop
                while end > start and s[end - 1] in " \t":
                    end -= 1
            else:
                end = _shell_word_end(s, p, stop)
        if end <= start or holds_nothing(s[start:end], "", op.group("op"), quoted=q is not None):
            return None
        column = field_start + 1 - line_start if line_start >= 0 else -1
        if column > 0 and s[field_start] in "\"'":
            column -= 1  # "Value": the field starts at its quote
        if name is None and not self._named_after(s, end, stop, column):
            return None
        return start, end

    def _named_after(self, s: str, end: int, stop: int, column: int) -> bool:
        """Does a name field after the value (same line, or the next at ``column``) name a secret?

        Both windows are bounded (240 characters), so a long line costs linear time.
        """
        rest = s[end : min(stop, end + 240)]
        cut = min((k for k in (rest.find("{"), rest.find("}")) if k != -1), default=-1)
        if cut == -1:
            name = self._name_after.search(rest)
            if name is not None:
                return _names_secret(name.group("n"))
            if stop < len(s):  # the next line, if it is a sibling at the value's indentation
                line = s[stop + 1 : _line_end(s, stop + 1)][:240]
                text = line.lstrip(" \t")
                if len(line) - len(text) == column and not text.startswith(("-", "{", "}")):
                    head = text[: text.find("{")] if "{" in text else text
                    name = self._name_after.match(head, 1 if head[:1] in "\"'" else 0)
                    return name is not None and _names_secret(name.group("n"))
            return False
        name = self._name_after.search(rest, 0, cut)
        return name is not None and _names_secret(name.group("n"))


SECRET_SIBLING = Rule(
    "secret_sibling",
    "secret",
    SiblingPattern(),
    "<SECRET>",
    needles=("alue",),
    line_local=False,  # the value may be on the line after the name
    whole_text=True,
    chars=frozenset(":="),
    examples=(
        '{"name": "API_KEY", "value": "abc123"}, {"Value": "v2", "Name": "/app/db_password"}',
        "- value: reversed-1\n  key: DB_PASS\n- Value: 8188\n  Name: PORT",
        "env:\n  - name: HF_TOKEN\n    value: hf-value-123\n  - name: PORT\n    value: 8188",
        '<add key="ApiKey" value="s3cr3t"/> ParameterKey=DbPassword,ParameterValue=pw1',
    ),
)
"""A value field next to a name field that names a secret (Kubernetes, CI, .NET config)."""


_SHELL_WORD = r"(?:[^\s'\"\\]|\\.|'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\")+"

SECRET_FLAG = Rule(
    "secret_flag",
    "secret",
    LowerCasePattern(
        "|".join(
            (
                # -u/--user user:pass (curl, wget, httpie), not a uid:gid
                r"(?P<k>(?<![\w-])(?:-u[ \t]{0,64}|--(?:proxy-)?user(?:[ \t]{1,64}|=)))"
                r"(?!<(?:" + PLACEHOLDER_NAMES.lower() + r")>|\d+:\d+(?!\S))"
                r"(?=[^\s:]{0,256}:)(?=[^\s-])" + _SHELL_WORD,
                # -p 'x y' anywhere (a quoted port mapping excepted)
                r"(?P<kp>(?<![\w-])-p[ \t]+)(?!['\"][\d:.]*['\"])(?='|\")" + _SHELL_WORD,
                # -pS3cr3t after mysql/mariadb
                r"(?P<km>(?:mysql\w*|mariadb\w*)\b[^\n;|&]{0,200}?[ \t]-p)(?=[^\s-])" + _SHELL_WORD,
                # sshpass -p x, docker login -p x
                r"(?P<ks>(?:sshpass|login)\b[^\n;|&]{0,200}?[ \t](?:-p|--password)[ \t]*)"
                r"(?=[^\s-])" + _SHELL_WORD,
            )
        )
    ),
    lambda m: (
        next(g for g in (m.group("k"), m.group("kp"), m.group("km"), m.group("ks")) if g)
        + "<SECRET>"
    ),
    needles=("mysql", "mariadb", "sshpass", "login"),
    # bounded: a long run of "/-u/-u..." must not cost quadratic time
    hay_triggers=(r"-u(?:ser)?[ \t=]{0,64}[^\s:]{0,256}:", r"-p[ \t]+[\"']"),
    ci=True,
    chars=frozenset("-"),
    examples=(
        "curl -u alice:S3cr3t https://x; curl --user kevin:'pRf7 x' y",
        "mysql -h db -u root -pS3cr3t; sshpass -p 'x y' ssh host; docker run -u 1000:1000",
    ),
)
"""Credentials on a command line that are not ``--name value``: ``-u user:pass``, ``-p...``."""
