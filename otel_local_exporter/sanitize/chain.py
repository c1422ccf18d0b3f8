"""The default chain: which rules run, and in which order.

Order matters. Secrets go first so that nothing later can split or hide them (a token inside a
URL is a secret before it is a URL); URLs and e-mails before paths (``https://host/a/b`` is one
URL, not a path); the host before the user (``alice-laptop`` becomes ``<HOST>``, not
``<USER>-laptop``); IPs last, once URLs have taken theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

from .assignments import SECRET_ASSIGNMENT, SECRET_FLAG, SECRET_SIBLING
from .blocks import SECRET_BLOCK, SECRET_KUBERNETES, SECRET_XML_BLOCK
from .detect import detect_homes, detect_hosts, detect_terms, detect_users
from .identity import host_forms, name_rule
from .paths import (
    BACKSLASH_PATH,
    HOME_RELATIVE_PATH,
    WINDOWS_PATH,
    posix_path_rule,
    windows_home_rule,
)
from .rule import Rule
from .secrets import AUTH_HEADER, AUTH_SCHEME, PRIVATE_KEY, literal_rule
from .tokens import KNOWN_TOKENS
from .web import EMAIL, HTTP_URL, IPV4, IPV6, SCP_URL, URL


def default_rules(
    *,
    user: str | None = None,
    home: str | None = None,
    host: str | None = None,
    extra_secrets: Iterable[str] = (),
    terms: Iterable[str] | None = None,
) -> list[Rule]:
    """The chain :class:`Sanitizer` runs by default, for this user, home and host.

    ``None`` means *detect* the current one (:mod:`.detect`); for ``terms``, the user's
    ``redact_terms`` from the config file. The result is a plain list: add,
    drop or reorder rules and pass it as ``Sanitizer(rules=...)``.
    """
    users = detect_users() if user is None else [user]
    homes = detect_homes() if home is None else [str(home)]
    hosts = detect_hosts() if host is None else [host]
    own_terms = detect_terms() if terms is None else list(terms)
    chain = (
        literal_rule(extra_secrets),
        PRIVATE_KEY,
        SECRET_SIBLING,
        SECRET_BLOCK,
        SECRET_XML_BLOCK,
        SECRET_KUBERNETES,
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
        # the user's own words go before the host and user rules, which could split them
        name_rule("redact_terms", "term", "<REDACTED>", own_terms),
        name_rule("host", "host", "<HOST>", host_forms(hosts)),
        name_rule("user", "user", "<USER>", users),
        IPV6,
        IPV4,
    )
    return [rule for rule in chain if rule is not None]
