"""The families of issue 20: what still leaked after the grammar and the catalogue.

Drawn from their own seed, so the older families (``__init__.py``) stay byte for byte as they
were. Each family holds at least 40 shapes; :data:`SENTENCES` also says what the whole text
must become (the secret goes, every other word stays).
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

_S = random.Random(20261203)
_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"


@dataclass(frozen=True)
class Case:
    family: str
    text: str
    secrets: tuple[str, ...]
    expected: str | None = None  # the whole output, when every other word must stay


def pick(alphabet: str, n: int) -> str:
    return "".join(_S.choice(alphabet) for _ in range(n))


def word() -> str:
    """A secret of one word in the alphabets real ones use."""
    kind = _S.randrange(4)
    if kind == 0:
        return pick(_ALNUM, _S.randint(16, 40))
    if kind == 1:
        return pick(_HEX, 40)
    if kind == 2:
        return pick(_B64, 30) + "=="
    return pick(_ALNUM, 8) + _S.choice("!%^*_+-~.") + pick(_ALNUM, 9)


def phrase() -> str:
    words = ["copper", "meadow", "quartz", "lantern", "orbit", "saffron", "tundra", "velvet"]
    return " ".join(_S.sample(words, 3))


NAMES = (
    "API_TOKEN",
    "DB_PASSWORD",
    "client_secret",
    "apiKey",
    "HF_TOKEN",
    "SECRET_KEY",
    "auth_token",
    "signing_key",
    "GITHUB_TOKEN",
    "passwd",
)


def make_operators() -> list[Case]:
    """Family 1: Make's ``:::=`` and every run of ``:``, ``?``, ``+``, ``!`` before ``=``."""
    ops = [":::=", "::=", ":=", "?=", "+=", "!=", "?:=", "+:=", "!:=", "::?="]
    shapes = [
        "{k} {op} {v}",
        '{k} {op} "{v}"',
        "{k}{op}{v}",
        "override {k} {op} '{v}'",
        "export {k} {op} {v}",
        "\t{k} {op} {v}",
    ]
    cases = []
    for i, op in enumerate(ops):
        for j in range(5):
            shape = shapes[(i + j) % len(shapes)]
            key = NAMES[(i * 3 + j) % len(NAMES)]
            value = word()
            text = shape.format(k=key, op=op, v=value)
            if j == 4:
                text = "# Makefile\n" + text + "\nall:\n\t@echo ok"
            cases.append(Case("make_operators", text, (value,)))
    return cases


TAGS = (
    "apiToken",
    "password",
    "ns:secret",
    "client-secret",
    "db.password",
    "ApiKey",
    "AuthToken",
    "privateKey",
    "passphrase",
    "SigningSecret",
)


def xml_multi_line() -> list[Case]:
    """Family 2: an XML/HTML element whose secret stands on its own line(s)."""
    layouts = [
        "<{t}>\n    {v}\n</{t}>",
        "<config>\n  <{t}>\n    {v}\n  </{t}>\n</config>",
        '<{t} encrypted="false">\n\t{v}\n</{t}>',
        "<{t}>\r\n  {v}\r\n</{t}>",
        "<{t}>\n{v}\n</{t}>\n<name>demo</name>",
        "<{t}>\n   {v}   \n   </{t}>",
    ]
    cases = []
    for i in range(48):
        tag = TAGS[i % len(TAGS)]
        layout = layouts[(i // len(TAGS) + i) % len(layouts)]
        value = phrase() if i % 5 == 0 else word()
        secrets = tuple(value.split()) if " " in value else (value,)
        cases.append(Case("xml_multi_line", layout.format(t=tag, v=value), secrets))
    return cases


def with_equals() -> str:
    """A token with ``=`` inside it or at its end, as base64 and joined tokens have."""
    kind = _S.randrange(3)
    if kind == 0:
        return pick(_ALNUM, _S.randint(6, 20)) + "=" + pick(_ALNUM, _S.randint(8, 20))
    if kind == 1:
        return pick(_B64, 22) + "==" + pick(_ALNUM, 6)
    return pick(_ALNUM, 12) + "=_" + pick(_ALNUM + "_", 14) + "="


def equals_values() -> list[Case]:
    """Family 3: values that hold ``=``; the part after the first ``=`` is no less secret."""
    shapes = [
        "{k}={v}",
        '{k}="{v}"',
        "{k}: {v}",
        '{{"{k}": "{v}"}}',
        "export {k}={v}",
        "--{k}={v} --verbose",
        "{k} = {v}",
        "set {k}={v}",
    ]
    cases = []
    for i in range(24):
        key = NAMES[i % len(NAMES)]
        value = with_equals()
        text = shapes[i % len(shapes)].format(
            k=key.lower() if "--" in shapes[i % 8] else key, v=value
        )
        cases.append(Case("equals_values", text, (value,)))
    contexts = ("connect with {t} failed", "token {t}", "'{t}'", "[{t}]")
    for i in range(20):
        # PlanetScale's alphabet holds "=" and "." (gitleaks): the token runs through them
        value = (
            "pscale_"
            + ("tkn", "pw", "oauth")[i % 3]
            + "_"
            + pick(_ALNUM, _S.randint(4, 20))
            + "="
            + pick(_ALNUM + "_", 30)
        )
        cases.append(Case("equals_values", contexts[i % 4].format(t=value), (value,)))
    return cases


def _b64_jwt() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = (
        base64.urlsafe_b64encode(('{"sub":"' + pick(_ALNUM, 12) + '","iat":1516239022}').encode())
        .rstrip(b"=")
        .decode()
    )
    jwt = f"{header}.{body}.{pick(_ALNUM + '_-', 43)}"
    return base64.b64encode(jwt.encode()).decode()


BARE_MAKERS = (
    ("base64 JWT", _b64_jwt),
    ("New Relic user key", lambda: "NRAK-" + pick(string.ascii_uppercase + string.digits, 27)),
    ("New Relic insert key", lambda: "NRII-" + pick(_ALNUM + "-", 32)),
    ("New Relic browser key", lambda: "NRJS-" + pick(_HEX, 19)),
    ("New Relic admin key", lambda: "NRAA-" + pick(_HEX, 27)),
    ("JFrog API key", lambda: "AKCp8" + pick(_ALNUM, 68)),
    (
        "JFrog reference token",
        lambda: "cmVmdGtu" + base64.b64encode(pick(_ALNUM, 48).encode()).decode()[:56],
    ),
    ("Atlassian", lambda: "ATATT3xFfGF0" + pick(_ALNUM + "_-", 170) + "=" + pick(_HEX.upper(), 8)),
    ("Sonar", lambda: _S.choice(["sqp_", "squ_", "sqa_"]) + pick(_HEX, 40)),
)


def bare_shapes() -> list[Case]:
    """Family 4: tokens without a key (only the shape says secret), Sidekiq, Kubernetes Secrets,
    and detect-secrets' keyword forms in code with any quoting."""
    contexts = (
        "uploading with {t} now",
        "error: 401 for {t}.",
        "('{t}',)",
        "[{t}]",
        "{t}",
    )
    cases = []
    for i in range(45):
        _vendor, make = BARE_MAKERS[i % len(BARE_MAKERS)]
        value = make()
        cases.append(Case("bare_shapes", contexts[i % len(contexts)].format(t=value), (value,)))
    for i, name in enumerate(
        ("BUNDLE_ENTERPRISE__CONTRIBSYS__COM", "BUNDLE_GEMS__CONTRIBSYS__COM") * 4
    ):
        value = pick(_HEX, 8) + ":" + pick(_HEX, 8)
        shape = ("{n}={v}", "export {n}={v}", '{n}: "{v}"', "ENV {n}={v}")[i % 4]
        cases.append(Case("bare_shapes", shape.format(n=name, v=value), (value,)))
    for i in range(10):
        user = base64.b64encode(pick(string.ascii_lowercase, 8).encode()).decode()
        blob = base64.b64encode(pick(_ALNUM, 30).encode()).decode()
        plain = word()
        key = ("username", "config.json", ".dockerconfigjson", "tls.crt", "endpoint")[i % 5]
        body = (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\ntype: Opaque\n"
            f"data:\n  {key}: {user}\n  blob: '{blob}'\n"
            f"stringData:\n  plain: {plain}\n"
        )
        if i % 2:
            body = "---\nkind: ConfigMap\ndata:\n  port: '8188'\n---\n" + body
        cases.append(Case("bare_shapes", body, (user, blob, plain)))
    keyword_shapes = (
        "{k} = '{v}'",
        '{k}: "{v}"',
        '"{k}" => "{v}"',
        '${k} = "{v}";',
        "@{k} = '{v}'",
        "{k}=u'{v}'",
        'self.{k} = r"{v}"',
        "my_{k} := `{v}`",
    )
    for i, key in enumerate(
        (
            "secret",
            "password",
            "pwd",
            "passwd",
            "contraseña",
            "contrasena",
            "db_pass",
            "priv_key",
            "service_key",
            "account_key",
        )
    ):
        value = word().replace("\\", "")
        cases.append(Case("bare_shapes", keyword_shapes[i % 8].format(k=key, v=value), (value,)))
    return cases


SENTENCE_TEMPLATES = (
    "HF_TOKEN={t} was rejected by the hub (401)",
    "GITHUB_TOKEN={t} expired yesterday, please renew it.",
    "export HF_TOKEN={t} did not help: still 403",
    "the request with {t} returned 401 Unauthorized",
    "API_KEY={t} is invalid (status 401)",
    "Using token {t} for the download.",
    "error: token {t} has no access to the repository",
    "OPENAI_API_KEY={t} failed with code 429, retry later",
    "Your key {t} was revoked; create a new one",
    "hub said: {t} is not a valid token",
)


def _sentence_token(i: int) -> str:
    makers = (
        lambda: "hf_" + pick(_ALNUM, 34),
        lambda: "ghp_" + pick(_ALNUM, 36),
        lambda: "sk-proj-" + pick(_ALNUM + "_-", 40),
        lambda: "glpat-" + pick(_ALNUM + "_-", 20),
        lambda: pick(_ALNUM, 32),
        lambda: "NRAK-" + pick(string.ascii_uppercase + string.digits, 27),
        lambda: "sqp_" + pick(_HEX, 40),
        lambda: "npm_" + pick(_ALNUM, 36),
    )
    return makers[i % len(makers)]()


def sentences() -> list[Case]:
    """Family 5: a secret inside a sentence: the secret goes, every other word stays."""
    cases = []
    for i in range(48):
        template = SENTENCE_TEMPLATES[i % len(SENTENCE_TEMPLATES)]
        kind = i + i // len(SENTENCE_TEMPLATES)
        token = _sentence_token(kind)
        while not any(c.isdigit() for c in token) or ("=" not in template and kind % 8 == 4):
            # a bare run is a secret only after a key (hashes stay); letters only are a word
            kind += 1
            token = _sentence_token(kind)
        cases.append(
            Case(
                "sentences",
                template.format(t=token),
                (token,),
                template.format(t="<SECRET>"),
            )
        )
    for _ in range(4):  # a pass-phrase on its own .env line still goes whole
        value = phrase()
        text = f"PASSWORD={value}"
        cases.append(Case("sentences", text, tuple(value.split()), "PASSWORD=<SECRET>"))
    return cases


FAMILIES = {
    "make_operators": make_operators(),
    "xml_multi_line": xml_multi_line(),
    "equals_values": equals_values(),
    "bare_shapes": bare_shapes(),
    "sentences": sentences(),
}
