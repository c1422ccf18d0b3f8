"""The web: URLs (user info and tokens go with them), scp remotes, e-mail addresses, IPs, MACs."""

from __future__ import annotations

from .rule import AnchoredPattern, Rule, compile_on_use

# Not \s: a category test per character is slower than a plain set, and a URL ends at the same
# places (ASCII blanks, NEL, no-break and other Unicode spaces, line separators) in practice.
_BLANKS = " \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_URL_CHAR = f"[^{_BLANKS}<>\"'`]"
_URL_BODY = _URL_CHAR + r"*(?:<[A-Z]+>" + _URL_CHAR + r"*)*(?<![.,;:!?)\]}])"

HTTP_URL = Rule(
    "http_url",
    "url",
    compile_on_use(r"h(?<![A-Za-z0-9+.-]h)ttps?://" + _URL_BODY),
    "<URL>",
    needles=("://",),
    whole_text=True,  # the literal first character makes the scan fast
    chars=frozenset(":"),
    examples=("see https://user:tok@example.com/a?token=x now",),
)
"""``http(s)://`` URLs, the bulk of them, in one fast regex pass."""

URL = Rule(
    "url",
    "url",
    AnchoredPattern(
        compile_on_use("://"),
        compile_on_use("://" + _URL_BODY),
        back=compile_on_use(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*\Z"),
        window=32,
    ),
    "<URL>",
    needles=("://",),
    whole_text=True,  # anchored on "://" already
    chars=frozenset(":"),
    examples=("git+https://github.com/x/y.git@main and s3://bucket/key",),
)
"""Any other ``scheme://`` URL (``git+https``, ``ssh``, ``s3``, ``postgres``...) as a whole, so
user info, tokens and query strings go with it."""

SCP_URL = Rule(
    "scp_url",
    "url",
    compile_on_use(
        r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*:"
        r"(?!\d+(?![\w/.~-]))(?=[\w~./-])[^\s\"'`<>]*(?<![.,;:!?)\]}])"
    ),
    "<URL>",
    needles=("@",),
    chars=frozenset("@"),
    examples=("remote git@github.com:org/repo.git",),
)
"""scp-style git remotes: ``git@github.com:org/repo.git``."""

_LOCAL = r"[\w.!#$%&*+?^~-]"
EMAIL = Rule(
    "email",
    "email",
    compile_on_use(
        r"(?<!" + _LOCAL + r")" + _LOCAL + r"+@"
        r"(?:(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"  # user@10.0.0.1
        r"|(?:[\w-]+\.)*[\w-]*[^\W\d_][\w-]*)"  # user@host, user@example.com
    ),
    "<EMAIL>",
    needles=("@",),
    chars=frozenset("@"),
    examples=("mail bob@example.com or root@10.0.0.1",),
)
"""E-mail addresses, and ``user@host`` forms (an ssh login names a person too)."""


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
    compile_on_use(
        rf"(?<![\w:.-])(?:{_MAC}(?![\w-]|:[0-9A-Fa-f])|{_IPV6}(?![\w]|:[0-9A-Fa-f:]|\.\d))"
    ),
    "<IP>",
    # IPv6 holds "::" or at least seven ":"; a MAC "hh:hh:hh:" or "hh-hh-hh-".
    triggers=(
        compile_on_use(r":(?::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)"),
        compile_on_use(r"-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-"),
    ),
    chars=frozenset(":-"),
    examples=("fe80::1%eth0 and 00:1a:2b:3c:4d:5e and 2001:db8::8a2e:370:7334",),
)
"""IPv6 (full, compressed, ``::1``, ``fe80::1%eth0``, v4-mapped) and MAC addresses."""

IPV4 = Rule(
    "ipv4",
    "ip",
    compile_on_use(rf"(?<![\w.]){_IPV4}(?![\w]|\.\d)"),
    "<IP>",
    triggers=(compile_on_use(r"\.\d{1,3}\.\d{1,3}\.\d"),),
    chars=frozenset("."),
    examples=("from 192.168.1.20 to 10.0.0.1",),
)
"""Four 0-255 octets, not inside a longer dotted run or word (``v1.2.3.4`` stays)."""
