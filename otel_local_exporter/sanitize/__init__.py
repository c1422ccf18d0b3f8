"""``Sanitizer``: every string that leaves the process is scrubbed here first (DESIGN section 7).

Privacy is the product, so the rule of thumb is *when unsure whether something could identify a
person, scrub it*. Span and event attributes, exception messages and stack traces, status
descriptions, crash reports and exports all pass through :meth:`Sanitizer.text` or
:meth:`Sanitizer.value`.

The work is an ordered chain of small :class:`Rule` objects, like structlog's processor chain:
each rule is a pure function ``str -> str`` (call it; :meth:`Rule.apply` also returns the number
of replacements), readable and testable on its own. :func:`default_rules` builds the chain for
the current user, home and host; ``Sanitizer(rules=[...])`` takes any other chain.

Where things live (a new rule goes into the module of its subject, and into
:func:`default_rules` at its place in the order):

* ``rule.py``      :class:`Rule` and the fast patterns (``AnchoredPattern``, ``LowerCasePattern``)
* ``engine.py``    :class:`Sanitizer`: runs the chain, caches short strings, counts per kind,
                   walks nested values, never raises
* ``secrets.py``   PEM private keys, ``Authorization``/``Cookie`` headers, ``Bearer``/``Basic``
* ``assignments.py``  the grammar of a secret-named key and its value (operators, calls,
                   commands, flags, XML, sibling fields, where a value ends), credential flags
* ``blocks.py``   a YAML block scalar (``password: |``) under a secret-named key, an XML
                   value on its own lines, a Kubernetes ``Secret``'s values
* ``values.py``   what a value is: code to keep (``get_token()``), or where a ``.env`` value ends
* ``secret_names.py``  which names name a secret: the vocabulary and keep-words, as data
* ``tokens.py``    the vendor token catalogue, one line per prefix with its length and alphabet
* ``web.py``       URLs, scp remotes, e-mail addresses, IPv4/IPv6/MAC
* ``paths.py``     homes and absolute paths in every slash style
* ``identity.py``  the login name and the host name as words
* ``detect.py``    detection of the current user, home and host, and the user's own terms
* ``chain.py``     :func:`default_rules`: the default chain and why it has this order

The default chain, in order; secrets go first so that nothing later can split or hide them:

1. ``extra_secrets``  literal values the caller names                     -> ``<SECRET>``
2. ``private_key``    PEM private key blocks                               -> ``<SECRET>``
3. ``secret_sibling`` ``{"name": "API_KEY", "value": v}``, ``- name: X_TOKEN`` then
                      ``value: v`` on the next line, in either order       -> ``value: <SECRET>``
   ``secret_block``   ``password: |`` and the deeper-indented lines after it -> ``<SECRET>``
   ``secret_xml_block``  ``<apiToken>`` with the value on the lines below    -> ``<SECRET>``
   ``secret_kubernetes`` the values under ``data:`` of a ``kind: Secret``   -> ``<SECRET>``
4. ``secret_flag``    ``curl -u user:pass``, ``mysql -pS3cr3t``, ``-p 'x y'`` -> ``-u <SECRET>``
5. ``auth_header``    ``Authorization:``, ``Proxy-Authorization:``, ``Cookie:``, ``Set-Cookie:``
                      (the rest of the line)                               -> ``Cookie: <SECRET>``
6. ``secret_assignment``  a secret-named key and its value in any shape: ``KEY=v``, ``k: v``,
                      ``k := "v"``, ``"k" => "v"``, ``setProperty("K", "v")``,
                      ``os.environ["K"] = v``, ``setx K v``, ``<k>v</k>``, ``--token v``;
                      the key stays; code on the right stays (``token = get_token()``)
                                                                            -> ``KEY=<SECRET>``
7. ``auth_scheme``    ``Bearer <token>``, ``Basic <base64>``               -> ``Bearer <SECRET>``
8. ``known_tokens``   the vendor catalogue (``tokens.CATALOGUE``): ``hf_``, ``ghp_``,
                      ``glpat-``, ``sk-``, ``sk_live_``, ``AKIA``, ``hvs.``, ``SG.``,
                      ``xoxb-``, JWTs, bot tokens and 30 more               -> ``<SECRET>``
9. ``http_url``, ``url``  any ``scheme://...``, whole: user info, tokens, query -> ``<URL>``
10. ``scp_url``        ``git@host:org/repo.git``                            -> ``<URL>``
11. ``email``         ``name@domain``, also ``name@host``, ``name@1.2.3.4`` -> ``<EMAIL>``
12. ``windows_home``, ``windows_path``  ``C:\\...``, ``C:/...``, any drive -> ``<PATH>``
13. ``posix_path``    the user's own home wherever it is, anyone's ``/home/<n>`` and
                      ``/Users/<n>``, any absolute path outside system folders -> ``<PATH>``
14. ``backslash_path``  UNC ``\\\\server\\share``, drive-less ``\\Users\\<n>``  -> ``<PATH>``
15. ``home_relative_path``  ``~/x``, ``~bob/x``, ``$HOME/x``, ``%USERPROFILE%\\x``,
                      ``{Path.home()}/x``                                  -> ``<PATH>``
    ``redact_terms``  the user's own words (config ``redact_terms``)     -> ``<REDACTED>``
16. ``host``          the host name, full and short form, as a word         -> ``<HOST>``
17. ``user``          the login name, as a word, any case                   -> ``<USER>``
18. ``ipv6``          IPv6 (compressed, zone ids, v4-mapped) and MAC        -> ``<IP>``
19. ``ipv4``          four 0-255 octets                                     -> ``<IP>``

Design choices, and why:

* **Package tails stay.** A path keeps what follows a package root (``site-packages``,
  ``dist-packages``, ``node_modules``): ``<PATH>/site-packages/git/cmd.py`` says which library
  failed and nothing about who ran it. So does the project's own source below its package
  (``<PATH>/installer/runner.py``: a ``.py`` file under ``installer/``,
  ``otel_local_exporter/`` or ``telemetry_cli/``), so a traceback stays readable. Relative
  paths (``models/checkpoints/x.safetensors``, ``./venv/lib``) stay; paths written through the
  home (``~/x``, ``$HOME/x``) do not.
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
* **Secret keys.** :meth:`Sanitizer.value` drops an entry whose key names a secret, and the
  assignment rules replace the value given to such a name. Which names do is data in
  :mod:`.secret_names` (``*_key`` unless the prefix is harmless like ``sort_key``, ``pw``,
  ``pass``, ``creds``, ``secret`` anywhere, ...), with keep-words tested one by one
  (``author``, ``tokenizer``, ``keyboard``, ``max_tokens``). ``session_id`` is kept on purpose:
  in this project it is the documented trace id of a run (DESIGN section 6).
* **Fakes go too.** Obviously fake values with a real shape (``AKIAIOSFODNN7EXAMPLE``,
  ``ghp_xxxx...``, ``password=changeme``) are replaced like real ones: a rule judges shapes, and
  a fake scrubbed costs nothing. Values that hold nothing stay and are not counted (``None``,
  ``""``, ``****``, ``api_key=api_key``): a count is a secret really removed.

Speed: a 10 MB traceback/pip/git log must sanitize in a small multiple of ``json.dumps`` time,
and a span attribute in microseconds. Python's ``re`` only scans fast for a *literal* first
character, so every rule is written to have one (assertions come after it), is anchored on a
literal (``://``, ``:\\``), or carries cheap *triggers* that any match needs (grouped by first
character: one scan each). A large text is cut into blocks at newlines (no rule but
``private_key``, ``secret_sibling`` and ``secret_block`` spans a newline, and they run first on
the whole text)
and a triggered rule runs only on the lines holding a hit. Short strings skip every rule none of
whose characters occur. Keyword rules match on lower-cased text instead of ``re.IGNORECASE``
(about ten times faster). Short strings are cached per instance together with their per-kind
counts. Every quantifier that could meet a long run is bounded, so no input costs more than
linear time. The hints never change a result: ``tests/test_sanitize_hints.py`` runs every rule
with and without them on texts built from every rule's ``examples``.
"""

from __future__ import annotations

from .assignments import SECRET_ASSIGNMENT, SECRET_FLAG, SECRET_SIBLING
from .blocks import SECRET_BLOCK
from .chain import default_rules
from .engine import KINDS, MAX_DEPTH, TRUNCATED, UNSANITIZABLE, Sanitizer
from .identity import name_rule
from .paths import (
    BACKSLASH_PATH,
    HOME_RELATIVE_PATH,
    POSIX_PATH,
    WINDOWS_PATH,
    posix_path_rule,
    windows_home_rule,
)
from .rule import AnchoredPattern, LowerCasePattern, Rule
from .secret_names import is_secret_key
from .secrets import AUTH_HEADER, AUTH_SCHEME, PRIVATE_KEY, literal_rule
from .tokens import CATALOGUE, KNOWN_TOKENS
from .web import EMAIL, HTTP_URL, IPV4, IPV6, SCP_URL, URL

__all__ = [
    "AUTH_HEADER",
    "AUTH_SCHEME",
    "BACKSLASH_PATH",
    "CATALOGUE",
    "EMAIL",
    "HOME_RELATIVE_PATH",
    "HTTP_URL",
    "IPV4",
    "IPV6",
    "KINDS",
    "KNOWN_TOKENS",
    "MAX_DEPTH",
    "POSIX_PATH",
    "PRIVATE_KEY",
    "SCP_URL",
    "SECRET_ASSIGNMENT",
    "SECRET_BLOCK",
    "SECRET_FLAG",
    "SECRET_SIBLING",
    "TRUNCATED",
    "UNSANITIZABLE",
    "URL",
    "WINDOWS_PATH",
    "AnchoredPattern",
    "LowerCasePattern",
    "Rule",
    "Sanitizer",
    "default_rules",
    "is_secret_key",
    "literal_rule",
    "name_rule",
    "posix_path_rule",
    "windows_home_rule",
]
