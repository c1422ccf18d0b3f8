"""Which names name a secret: the vocabulary as data, one list per decision.

A name (``HF_TOKEN``, ``apiKey``, ``db.password``, ``x-api-key``, ``mySecretString``) is split
into lower-case words at ``_ - . :`` and at case changes, and then:

1. it names a secret if a word is one of :data:`SECRET_WORDS` (``pw``, ``pass``, ``creds``...),
   contains one of :data:`SECRET_FRAGMENTS` anywhere (``dbpassword``, ``clientsecret``), ends in
   one of :data:`SECRET_SUFFIXES` (``authtoken``), is one of :data:`JOINED_KEYS` (``apikey``),
   or is ``key``/``keys`` after a word that is not in :data:`HARMLESS_KEY_PREFIXES`
   (``MAILGUN_KEY`` and ``signing_key`` are secrets; ``sort_key`` and ``primary_key`` are not);
2. unless the name only *describes* a secret: its last word is one of :data:`DESCRIBING_WORDS`
   (``token_type``, ``password_length``, ``InvalidTokenError``, ``secret_name``), it counts
   tokens (``max_tokens``, ``pad_token``: a word of :data:`TOKEN_COUNT_WORDS` next to ``token``),
   or it is one of :data:`KEPT_NAMES` (``session_id``: in this project the documented trace id
   of a run, DESIGN section 6, not a web session).

Words that only *contain* a secret word stay readable: ``author``, ``tokenizer``, ``keyboard``,
``monkey``, ``passed``, ``compass``. A bare ``key`` is not a secret on its own (a dict key, a
sort key); ``--key VALUE`` on a command line is (see :mod:`.assignments`).
"""

from __future__ import annotations

import functools

from .rule import compile_on_use

SECRET_WORDS = frozenset(
    {
        "token",
        "tokens",
        "pass",
        "passwd",
        "passwort",
        "passcode",
        "pw",
        "pwd",
        "creds",
        "cred",
        "private",
        "signing",
        "salt",
        "dsn",
        "auth",
        "authorization",
        "cookie",
        "cookies",
        "jwt",
        "session",
        "sessionid",
        "contribsys",  # Sidekiq Enterprise: BUNDLE_GEMS__CONTRIBSYS__COM=user:pass
    }
)
"""Whole words that make a name secret."""

SECRET_FRAGMENTS = ("secret", "password", "passwd", "passphrase", "credential", "contrase")
"""Found anywhere inside a word: ``mysecretstring``, ``dbpassword``, ``pgpassword``,
``contraseña`` (detect-secrets' keyword list has the Spanish word)."""

SECRET_SUFFIXES = ("token", "tokens")
"""A word ending so: ``authtoken``, ``hftoken``, ``accesstoken`` (not ``tokenizer``)."""

JOINED_KEYS = frozenset(
    {
        "apikey",
        "apikeys",
        "accesskey",
        "privatekey",
        "signingkey",
        "masterkey",
        "licensekey",
        "encryptionkey",
        "clientkey",
        "sshkey",
        "authkey",
        "appkey",
        "accountkey",
        "subscriptionkey",
        "servicekey",
        "serverkey",
        "userkey",
    }
)
"""``...key`` written as one word; other one-word ``...key`` (``monkey``, ``turkey``) stay."""

HARMLESS_KEY_PREFIXES = frozenset(
    {
        "sort",
        "primary",
        "foreign",
        "cache",
        "partition",
        "row",
        "lookup",
        "dict",
        "map",
        "group",
        "index",
        "unique",
        "composite",
        "natural",
        "surrogate",
        "public",
        "pub",
        "shortcut",
        "hot",
        "order",
        "registry",
        "translation",
        "i18n",
        "idempotency",
        "object",
        "s3",
        "dedup",
        "routing",
        "message",
        "event",
        "state",
        "context",
        "config",
        "setting",
        "settings",
        "label",
        "column",
        "field",
        "table",
        "json",
        "yaml",
        "env",
        "cluster",
        "node",
        "tree",
        "range",
        "search",
        "join",
        "lock",
        "shard",
        "missing",
        "unexpected",
        "extra",
        "param",
        "weight",
        "layer",
        "module",
        "tensor",
        "prefix",
        "music",
        "sorting",
        "grouping",
        "dictionary",
        "the",
        "a",
        "no",
        "any",
        "each",
        "this",
    }
)
"""``<word>_key`` names that hold a lookup key, not a credential (``sort_key``)."""

DESCRIBING_WORDS = frozenset(
    {
        "type",
        "types",
        "method",
        "methods",
        "mode",
        "scheme",
        "kind",
        "policy",
        "provider",
        "length",
        "len",
        "count",
        "size",
        "limit",
        "format",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "timeout",
        "rotation",
        "version",
        "file",
        "filename",
        "path",
        "dir",
        "var",
        "name",
        "names",
        "header",
        "field",
        "url",
        "uri",
        "endpoint",
        "enabled",
        "required",
        "stdin",
        "hint",
        "prompt",
        "regex",
        "pattern",
        "rate",
        "status",
        "error",
        "errors",
        "exception",
        "warning",
        "usage",
        "helper",
        "manager",
        "store",
        "backend",
        "class",
    }
)
"""A last word that makes the name describe a secret rather than hold it."""

TOKEN_COUNT_WORDS = frozenset(
    {
        "max",
        "min",
        "num",
        "n",
        "total",
        "prompt",
        "completion",
        "input",
        "output",
        "context",
        "used",
        "remaining",
        "per",
        "special",
        "added",
        "pad",
        "eos",
        "bos",
        "unk",
        "cls",
        "sep",
        "mask",
        "vocab",
        "new",
        "generated",
        "reasoning",
        "cached",
    }
)
"""Next to ``token``/``tokens``: a number or kind of language-model tokens (``max_tokens``)."""

KEPT_NAMES = frozenset({("session", "id")})
"""Whole names (as words) that stay: ``session_id`` is this project's trace id of a run."""

_WORD = compile_on_use(r"[A-Z]+(?![a-z])[0-9]*|[A-Z]?[a-z]+[0-9]*|[0-9]+")


def words(name: str) -> tuple[str, ...]:
    """``name`` as lower-case words: ``APIKey`` -> ``(api, key)``."""
    return tuple(w.lower() for w in _WORD.findall(name))


def _secret_word(word: str) -> bool:
    bare = word.rstrip("0123456789") or word
    return (
        bare in SECRET_WORDS
        or bare in JOINED_KEYS
        or any(f in bare for f in SECRET_FRAGMENTS)
        or bare.endswith(SECRET_SUFFIXES)
    )


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Does a dict key, attribute, variable or flag name name a secret?

    :meth:`Sanitizer.value` drops an entry with such a key whole; the assignment rules replace
    the value assigned to it.
    """
    ws = words(key)
    if not ws or ws in KEPT_NAMES or ws[-1] in DESCRIBING_WORDS:
        return False
    for i, word in enumerate(ws):
        bare = word.rstrip("0123456789") or word
        if bare in ("token", "tokens") and any(w in TOKEN_COUNT_WORDS for w in ws):
            continue
        if _secret_word(word):
            return True
        if bare in ("key", "keys") and i and ws[i - 1] not in HARMLESS_KEY_PREFIXES:
            return True
    return False
