"""Tokens recognisable by their prefix, wherever they stand: the vendor catalogue, as data.

Each :class:`Token` is written with the vendor's real length and alphabet (hex, base62,
base64url) and a word start, so that a digest, a commit id or an ordinary word that happens to
begin with the same letters stays: ``SK`` needs 32 hex digits, ``dapi`` 32 hex digits, ``SG.``
two dot-separated base64url parts of 22 and 43 characters. A new vendor is one line in
:data:`CATALOGUE` (and a case in the privacy corpus). Obviously fake examples with a real shape
(``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxx...``) are replaced like real tokens: the shape is all a rule
can judge, and a fake scrubbed costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rule import Rule, by_first_character, compile_on_use

_B = r"(?![A-Za-z0-9])"  # the token ends here: not the prefix of a longer word
_U = r"[A-Za-z0-9_-]"  # one base64url character


def _word_start(first: str) -> str:
    """``first`` (one literal character) not preceded by a letter or digit.

    The assertion comes after the character, so the pattern keeps a literal first character
    and the regex engine can scan for it quickly.
    """
    return f"{first}(?<![A-Za-z0-9]{first})"


@dataclass(frozen=True)
class Token:
    """A vendor token: ``regex`` matches it whole; every match also matches ``trigger``.

    ``trigger`` (a regex with a literal first character) is the speed hint: in a large text
    only lines holding a trigger are looked at. Most tokens share :data:`_UNDERSCORE_RUN`, an
    underscore and 16 token characters, which ordinary output rarely has; the property tests
    check every trigger against its token.
    """

    vendor: str
    regex: str
    trigger: str

    @classmethod
    def prefixed(cls, vendor: str, prefix: str, rest: str, *, trigger: str = "") -> Token:
        """A token that starts with the literal ``prefix`` at a word start."""
        regex = _word_start(prefix[0]) + re.escape(prefix[1:]) + rest
        return cls(vendor, regex, trigger or re.escape(prefix))


_UNDERSCORE_RUN = r"_[A-Za-z0-9_-]{16}"
_T = {"trigger": _UNDERSCORE_RUN}

CATALOGUE: tuple[Token, ...] = (
    Token.prefixed("Hugging Face", "hf_", r"[A-Za-z0-9]{16,}", **_T),
    Token.prefixed("Hugging Face organisation", "api_org_", r"[A-Za-z0-9]{30,}" + _B, **_T),
    # GitHub prefixes never start an ordinary word: scrubbed with whatever follows
    *(Token.prefixed("GitHub", f"gh{k}_", r"[A-Za-z0-9]*") for k in "pousr"),
    Token.prefixed("GitHub", "github_pat_", r"[A-Za-z0-9_]*"),
    *(
        Token.prefixed("GitLab", f"gl{kind}-", _U + "{20,}", trigger=r"gl[a-z]{2,6}-")
        for kind in ("pat", "dt", "rt", "oas", "agent", "ptt", "ft", "soat", "imt", "cbt", "ffct")
    ),
    Token.prefixed("OpenAI, Anthropic", "sk-", r"(?:proj-|ant-|svcacct-|admin-)?" + _U + "{16,}"),
    *(
        Token.prefixed("Stripe", f"{kind}k_{mode}_", r"[A-Za-z0-9]{20,247}" + _B, **_T)
        for kind in "sr"
        for mode in ("live", "test")
    ),
    Token.prefixed("Stripe webhook", "whsec_", r"[A-Za-z0-9+/]{32,}={0,2}"),
    Token.prefixed("AWS", "AKIA", r"[0-9A-Z]{16}" + _B),
    Token.prefixed("AWS", "ASIA", r"[0-9A-Z]{16}" + _B),
    Token.prefixed("Google", "AIza", _U + "{35}"),
    Token.prefixed("PyPI", "pypi-", _U + "{16,}"),
    Token.prefixed("Slack", "xox", r"[abeprs]-[A-Za-z0-9-]{16,}"),
    Token.prefixed("Slack app", "xapp-", r"[0-9]-[A-Z0-9]{8,}-[0-9]{8,}-[A-Za-z0-9]{32,}"),
    Token.prefixed(
        "Slack webhook", "hooks.slack.com/", r"(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}"
    ),
    Token.prefixed("npm", "npm_", r"[A-Za-z0-9]{36}", **_T),
    Token.prefixed("HashiCorp Vault", "hv", r"[sbr]\.[A-Za-z0-9_-]{24,}", trigger=r"hv[sbr]\."),
    # Grafana Cloud tokens are base64 of a JSON object: "glc_eyJ..."
    Token.prefixed("Grafana Cloud", "glc_", r"eyJ[A-Za-z0-9+/]{29,}={0,2}", trigger="eyJ"),
    Token.prefixed(
        "Grafana service account", "glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}" + _B, **_T
    ),
    Token.prefixed("SendGrid", "SG.", _U + r"{22}\." + _U + "{43}"),
    Token.prefixed("Notion", "ntn_", r"[A-Za-z0-9]{40,50}" + _B, **_T),
    Token.prefixed("Notion (older)", "secret_", r"[A-Za-z0-9]{43}" + _B, **_T),
    Token.prefixed(
        "Sourcegraph", "sgp_", r"(?:[A-Fa-f0-9]{16}_|local_)?[A-Fa-f0-9]{40}" + _B, **_T
    ),
    Token.prefixed("Sentry organisation", "sntrys_", r"eyJ[A-Za-z0-9+/=_-]{40,}", trigger="eyJ"),
    Token.prefixed("Sentry user", "sntryu_", r"[a-f0-9]{64}" + _B, **_T),
    # fly.io: "FlyV1 fm2_...,fm2_..." (a macaroon list); every part goes
    Token(
        "fly.io",
        _word_start("f")
        + r"m[12][ar]?_[A-Za-z0-9_+/=-]{20,}(?:,fm[12][ar]?_[A-Za-z0-9_+/=-]{20,})*",
        r"fm[12][ar]?_",
    ),
    Token.prefixed("Shopify", "shp", r"(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _B, **_T),
    Token.prefixed(
        "Doppler", "dp.", r"(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,}"
    ),
    Token.prefixed("Linear", "lin_", r"(?:api|oauth)_[A-Za-z0-9]{40,64}" + _B, **_T),
    Token.prefixed("Databricks", "dapi", r"[a-f0-9]{32}(?:-[0-9])?" + _B),
    Token.prefixed("DigitalOcean", "do", r"[opr]_v1_[a-f0-9]{64}" + _B, **_T),
    # gitleaks' alphabet: "=" and "." belong to the token (pscale_tkn_5mdn...=_tk4e...)
    Token.prefixed("PlanetScale", "pscale_", r"(?:tkn|pw|oauth)_[\w=.-]{32,64}"),
    Token.prefixed("Twilio API key", "SK", r"[0-9a-fA-F]{32}" + _B),
    Token.prefixed("Replicate", "r8_", r"[A-Za-z0-9]{37}" + _B, **_T),
    Token.prefixed("Groq", "gsk_", r"[A-Za-z0-9]{48,}", **_T),
    Token.prefixed("NVIDIA", "nvapi-", _U + "{60,}"),
    # a JWT does not start inside a base64url run (nor is searched again from there)
    Token("JWT", f"e(?<!{_U}e)yJ{_U}{{5,}}\\.{_U}{{5,}}\\.{_U}*", "eyJ"),
    # the assertions come after the first character, which keeps the regex engine's fast
    # scan for possible first characters
    Token(
        "Telegram bot",
        r"[0-9](?<![A-Za-z0-9_:-][0-9])[0-9]{7,9}:AA" + _U + "{33}(?!" + _U + ")",
        ":AA",
    ),
    Token(
        "Discord bot",
        r"[MNO](?<![A-Za-z0-9_.-][MNO])" + _U + r"{23,25}\." + _U + r"{6}\." + _U + "{27,38}"
        r"(?![A-Za-z0-9_.-])",
        r"\." + _U + r"{6}\." + _U + "{27}",
    ),
    # the keys that only their shape gives away (gitleaks' and detect-secrets' rules)
    Token(
        "JWT, base64-encoded",  # base64("eyJ") is "ZXlK": a JWT encoded once more
        _word_start("Z") + r"XlK[A-Za-z0-9+/_-]{40,}={0,2}",
        "ZXlK",
    ),
    Token.prefixed(
        "New Relic", "NR", r"(?:AK|AA|RA|BR|II|IQ)-[A-Za-z0-9-]{27,32}" + _B, trigger=r"NR[A-Z]{2}-"
    ),
    Token.prefixed("New Relic browser", "NRJS-", r"[a-f0-9]{19}" + _B),
    Token.prefixed("JFrog API key", "AKC", r"[A-Za-z0-9]{60,80}" + _B),
    Token.prefixed("JFrog reference token", "cmVmdGtu", r"[A-Za-z0-9+/]{40,80}={0,2}"),
    Token.prefixed("Atlassian API token", "ATATT3", r"[A-Za-z0-9_=-]{150,250}"),
    Token.prefixed("SonarQube", "sq", r"[pua]_[a-f0-9]{40}" + _B, trigger=r"sq[pua]_"),
)
"""Every token the rule knows, with its vendor (for the README and the corpus)."""

# "=" inside or after a token (padding, a second part) belongs to it: "...=_tk4e..." goes too
TOKEN_PATTERN = compile_on_use(
    "(?:" + "|".join(t.regex for t in CATALOGUE) + ")(?:=+[A-Za-z0-9_+/-]*)*"
)
"""Every token of :data:`CATALOGUE`, with what follows an ``=`` inside it."""

KNOWN_TOKENS = Rule(
    "known_tokens",
    "secret",
    TOKEN_PATTERN,
    "<SECRET>",
    triggers=tuple(compile_on_use(src) for src in by_first_character(t.trigger for t in CATALOGUE)),
    # every token holds one of these (AKIA/SK/dapi tokens have no punctuation)
    chars=frozenset("_-.:AKpZc"),
    examples=(
        "use hf_" + "aB3" * 11 + " and sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " now",
        "FlyV1 fm2_" + "lJPECAAAAAAAAMT" * 3 + ",fm2_" + "x7Yz" * 8,
        "SG." + "a" * 22 + "." + "b" * 43 + " SK" + "0123456789abcdef" * 2 + " dapi" + "f" * 32,
        "123456789:AA" + "Hh5kZ" * 6 + "abc bot; MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe." + "x" * 30,
        "ZXlK" + "aGJHY2lP" * 6 + "= NRAK-" + "a1b2c3d4e" * 3 + " AKCp8" + "kQ2z" * 17,
        "cmVmdGtu" + "OjAxOjE3" * 7 + " ATATT3xF" + "fGF0" * 45 + " sqp_" + "0a1b" * 10,
    ),
)
"""Tokens recognisable by their prefix (:data:`CATALOGUE`), wherever they stand."""
