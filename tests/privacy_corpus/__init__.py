"""The privacy corpus: secrets in the shapes people really write them, and what must stay.

Eight families (README.md here says how each was built), each a list of :class:`Case`: a text
and the secret values in it. Secret values are generated from a fixed seed in the alphabets real
ones use (base62, hex, base64 with ``+/=``, passwords with punctuation and spaces), so that no
rule can be tuned to a literal. ``KEEP`` lists texts that must come out byte for byte unchanged.
"""

from __future__ import annotations

import random
import string

from otel_local_exporter.sanitize import CATALOGUE

from . import last_tenth
from .last_tenth import Case

_R = random.Random(20261130)
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"


def _pick(alphabet: str, n: int) -> str:
    return "".join(_R.choice(alphabet) for _ in range(n))


def word_secret() -> str:
    """A password or key without blanks or quotes (valid unquoted in a shell)."""
    kind = _R.randrange(5)
    if kind == 0:
        return _pick(_ALNUM, _R.randint(12, 40))
    if kind == 1:
        return _pick("0123456789abcdef", 32)
    if kind == 2:
        return _pick(_B64, 40) + "=="
    if kind == 3:
        return _pick(_ALNUM, 6) + _R.choice("!@%^*_+-~.") + _pick(_ALNUM, 7) + _R.choice("#$/")
    return "S3cr3t" + _pick(string.digits, 4) + _pick(string.ascii_letters, 3)


def phrase_secret() -> str:
    """A password with blanks and punctuation (needs quotes in a shell)."""
    words = ["correct", "horse", "battery", "staple", "lunar", "violet", "quartz", "mango"]
    return " ".join(_R.sample(words, 3)) + _R.choice(["", "!", " 42", "{x}", " =9"])


# Secret-named keys, the way people name them.
KEYS = (
    "API_KEY",
    "apiKey",
    "x-api-key",
    "HF_TOKEN",
    "hfToken",
    "GITHUB_TOKEN",
    "password",
    "db_password",
    "DB_PASS",
    "db_pass",
    "cloudant_pw",
    "MYSQL_PWD",
    "client_secret",
    "mySecretString",
    "signing_key",
    "MAILGUN_KEY",
    "OPENROUTER_KEY",
    "HEROKU_KEY",
    "creds",
    "credentials",
    "private_key",
    "password_salt",
    "SENTRY_DSN",
    "auth_token",
    "accessToken",
    "refresh_token",
    "session_token",
    "jwt",
    "cookie",
    "AccountKey",
    "secretKey",
    "passphrase",
    "ssh_key",
    "encryption_key",
    "webhook_secret",
    "aws_secret_access_key",
    "openai_api_key",
    "passwd",
    "PGPASSWORD",
    "CIVITAI_API_KEY",
    "authorization",
    "apikey",
    "Secret",
)


def _operators() -> list[Case]:
    """Family 1: every assignment operator, in the languages that use it."""
    ops = ["=", ":", ":=", "::=", "=>", "?=", "+=", ".=", "==", "!=", "<-", "===", "!==", "??="]
    shapes = [
        "{k} {op} {v}",
        '{k} {op} "{v}"',
        "{k}{op}'{v}'",
        'if {k} {op} "{v}":',
        '  "{k}" {op} "{v}",',
        "$config['{k}'] {op} '{v}';",
    ]
    cases = []
    for i, op in enumerate(ops):
        comparison = op in ("==", "!=", "===", "!==")
        for j, shape in enumerate(shapes[: 3 + i % 4]):
            if shape.startswith("if") != comparison and j == 3:
                shape = 'if {k} {op} "{v}":' if comparison else "{{{k}{op} '{v}'}}"
            key = KEYS[(i * 7 + j) % len(KEYS)]
            value = word_secret()
            cases.append(Case("operators", shape.format(k=key, op=op, v=value), (value,)))
    return cases


def _shapes() -> list[Case]:
    """Family 2: name/value pairs by call, subscript, command, tag, type or sibling field."""
    shapes = [
        'System.setProperty("{k}", "{v}");',
        "os.environ.setdefault('{k}', '{v}')",
        'os.environ["{k}"] = "{v}"',
        "os.environ['{k}']='{v}'",
        'os.putenv("{k}", "{v}")',
        'setenv("{k}", "{v}", 1);',
        '[Environment]::SetEnvironmentVariable("{k}", "{v}", "User")',
        "localStorage.setItem('{k}', '{v}');",
        'config.set("auth", "{k}", "{v}")',
        'headers.put("{k}", "{v}");',
        'Set-Item Env:{k} "{v}"',
        "Set-Item -Path Env:{k} -Value '{v}'",
        '$env:{k} = "{v}"',
        "export {k}={v}",
        "export {k}='{v}'",
        "set {k}={v}",
        "setx {k} {v}",
        'setx {k} "{v}" /M',
        "set -x {k} {v}",
        "set -gx {k} '{v}'",
        "setenv {k} {v}",
        "ENV {k} {v}",
        "ENV {k}={v}",
        "docker run -e {k}={v} comfyui",
        "kubectl create secret generic app --from-literal={k}={v}",
        "java -D{k}={v} -jar app.jar",
        "<{k}>{v}</{k}>",
        '<{k} type="string">{v}</{k}>',
        'var {k} string = "{v}"',
        '{k} := "{v}"',
        'def connect({k}: str = "{v}"):',
        'let {k}: String = "{v}";',
        'const {k}: &str = "{v}";',
        'private static final String {k} = "{v}";',
        'client = Client({k}="{v}", timeout=3)',
        '{{"name": "{k}", "value": "{v}"}}',
        "{{'key': '{k}', 'value': '{v}'}}",
        "env:\n  - name: {k}\n    value: {v}\n  - name: PORT\n    value: 8188",
        "variables:\n  - key: {k}\n    value: '{v}'",
        '<add key="{k}" value="{v}" />',
        "ParameterKey={k},ParameterValue={v}",
        "{k} <- '{v}'",
        '  {k} = "{v}"  # from the vault',
    ]
    cases = []
    for i, shape in enumerate(shapes):
        key = KEYS[(i * 5 + 3) % len(KEYS)]
        if key.startswith("x-") and ("{k} :=" in shape or "var {k}" in shape or "def " in shape):
            key = "apiKey"
        if shape.startswith("<{k}") and "-" in key:
            key = "password"
        value = word_secret()
        cases.append(Case("shapes", shape.format(k=key, v=value), (value,)))
    return cases


def _names() -> list[Case]:
    """Family 3: the vocabulary of names, each in a .env line and a JSON field."""
    cases = []
    for i, key in enumerate(KEYS):
        value = word_secret()
        text = f"{key}={value}" if i % 2 else f'{{"{key}": "{value}", "retries": 3}}'
        cases.append(Case("names", text, (value,)))
    return cases


def _command_lines() -> list[Case]:
    """Family 4: credentials on command lines, in every quoting."""
    user = "kevin"
    cases = []

    def add(template: str, secret: str) -> None:
        cases.append(Case("command_line", template.format(s=secret, u=user), (secret,)))

    for quote in ("", "'", '"'):
        add("curl -u {u}:" + quote + "{s}" + quote + " https://api.example.com/x", word_secret())
        add("curl --user {u}:" + quote + "{s}" + quote + " -X POST", word_secret())
        add("curl --user=" + quote + "{u}:{s}" + quote + " -sS", word_secret())
        add("wget --proxy-user {u}:" + quote + "{s}" + quote + " http://mirror", word_secret())
        add("mysql -h db -u root -p" + quote + "{s}" + quote + " dinoair", word_secret())
        add("mysqldump --single-transaction -uroot -p" + quote + "{s}" + quote, word_secret())
        add("docker login -u {u} -p " + quote + "{s}" + quote + " registry.example", word_secret())
        for flag in ("--password", "--pass", "--passwd", "--token", "--api-key"):
            add(f"tool {flag} " + quote + "{s}" + quote + " --verbose", word_secret())
        for flag in ("--auth", "--secret", "--key", "--hf-token"):
            add(f"tool {flag}=" + quote + "{s}" + quote + " run", word_secret())
    add("sshpass -p '{s}' ssh {u}@server", phrase_secret())
    add("mysql -u root -p '{s}'", phrase_secret())
    add('huggingface-cli login --token "{s}"', phrase_secret())
    add("openssl pkcs12 -export -passout pass:{s} -out x.p12", word_secret())
    add("git clone https://{u}:{s}@github.com/org/repo.git", word_secret())
    return cases


def _vendor_value(token_regex_vendor: str) -> str:
    """A realistic token for each vendor of the catalogue."""
    hexd = "0123456789abcdef"
    makers = {
        "Hugging Face": lambda: "hf_" + _pick(_ALNUM, 34),
        "Hugging Face organisation": lambda: "api_org_" + _pick(_ALNUM, 34),
        "OpenAI, Anthropic": lambda: "sk-proj-" + _pick(_ALNUM + "_-", 48),
        "Stripe webhook": lambda: "whsec_" + _pick(_B64, 32),
        "Google": lambda: "AIza" + _pick(_ALNUM + "_-", 35),
        "PyPI": lambda: "pypi-AgEIcHlwaS5vcmc" + _pick(_ALNUM, 50),
        "Slack": lambda: "xoxb-" + _pick(string.digits, 12) + "-" + _pick(_ALNUM, 24),
        "Slack app": lambda: (
            "xapp-1-A0"
            + _pick("ABCDEFGH0123456789", 9)
            + "-"
            + _pick(string.digits, 13)
            + "-"
            + _pick(hexd, 64)
        ),
        "Slack webhook": lambda: (
            "hooks.slack.com/services/T"
            + _pick("ABCDEFGH0123456789", 8)
            + "/B"
            + _pick("ABCDEFGH0123456789", 8)
            + "/"
            + _pick(_ALNUM, 24)
        ),
        "npm": lambda: "npm_" + _pick(_ALNUM, 36),
        "HashiCorp Vault": lambda: _R.choice(["hvs.", "hvb."]) + _pick(_ALNUM + "_-", 90),
        "Grafana Cloud": lambda: "glc_eyJvIjoiMTIzNDU2IiwibiI6InN0YWNrLTEyMzQ1" + _pick(_B64, 40),
        "Grafana service account": lambda: "glsa_" + _pick(_ALNUM, 32) + "_" + _pick(hexd, 8),
        "SendGrid": lambda: "SG." + _pick(_ALNUM + "_-", 22) + "." + _pick(_ALNUM + "_-", 43),
        "Notion": lambda: "ntn_" + _pick(string.digits, 11) + _pick(_ALNUM, 35),
        "Notion (older)": lambda: "secret_" + _pick(_ALNUM, 43),
        "Sourcegraph": lambda: "sgp_" + _pick(hexd, 16) + "_" + _pick(hexd, 40),
        "Sentry organisation": lambda: "sntrys_eyJpYXQiOjE3MDAwMDAwMDAu" + _pick(_ALNUM, 60),
        "Sentry user": lambda: "sntryu_" + _pick(hexd, 64),
        "fly.io": lambda: "FlyV1 fm2_" + _pick(_B64, 60) + ",fm2_" + _pick(_B64, 40),
        "Shopify": lambda: _R.choice(["shpat_", "shpss_", "shpca_"]) + _pick(hexd, 32),
        "Doppler": lambda: "dp.pt." + _pick(_ALNUM, 43),
        "Linear": lambda: "lin_api_" + _pick(_ALNUM, 40),
        "Databricks": lambda: "dapi" + _pick(hexd, 32),
        "DigitalOcean": lambda: "dop_v1_" + _pick(hexd, 64),
        "PlanetScale": lambda: "pscale_tkn_" + _pick(_ALNUM + "_", 43),
        "Twilio API key": lambda: "SK" + _pick(hexd, 32),
        "Replicate": lambda: "r8_" + _pick(_ALNUM, 37),
        "Groq": lambda: "gsk_" + _pick(_ALNUM, 52),
        "NVIDIA": lambda: "nvapi-" + _pick(_ALNUM + "_-", 64),
        "JWT": lambda: (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI" + _pick(_ALNUM, 20) + "." + _pick(_ALNUM, 43)
        ),
        "Telegram bot": lambda: _pick(string.digits, 9) + ":AA" + _pick(_ALNUM + "_-", 33),
        "Discord bot": lambda: (
            "MT" + _pick(_ALNUM, 24) + "." + _pick(_ALNUM, 6) + "." + _pick(_ALNUM, 38)
        ),
    }
    return makers[token_regex_vendor]() if token_regex_vendor in makers else ""


def _vendors() -> list[Case]:
    """Family 5: one token per catalogue entry (every prefix), in prose, not after a key."""
    contexts = (
        "uploading with {t} now",
        "error: 401 for credential {t}.",
        "('{t}',)",
        "[{t}]",
    )
    cases = []
    seen = set()
    for i, token in enumerate(CATALOGUE):
        if token.vendor in ("GitHub", "GitLab", "Stripe", "AWS"):
            prefix = token.regex.split(")", 1)[-1].replace("\\", "")
            head = token.regex[0] + prefix.split("[", 1)[0]
            body = {"AWS": _pick(string.ascii_uppercase + string.digits, 16)}.get(
                token.vendor, _pick(_ALNUM, 36)
            )
            value = head + body
        else:
            if token.vendor in seen:
                continue
            value = _vendor_value(token.vendor)
            if not value:  # issue 20's shapes: in last_tenth.bare_shapes, from their own seed
                continue
        seen.add(token.vendor)
        secret = value.split(" ", 1)[-1]  # "FlyV1 fm2_...": the macaroon is the secret
        cases.append(Case("vendors", contexts[i % len(contexts)].format(t=value), (secret,)))
    return cases


def _values() -> list[Case]:
    """Family 6: values that are not one plain word: blanks, braces, '=', quotes, escapes."""
    cases = []
    templates = [
        ("password: {p}", phrase_secret),
        ("  client_secret: {p}", phrase_secret),
        ("- api_key: {p}", phrase_secret),
        ("db_password = {p}", phrase_secret),
        ('password = "{p}"', phrase_secret),
        ("password='{p}'", phrase_secret),
        ('{{"password": "{p}"}}', phrase_secret),
        ('{{\\"token\\": \\"{p}\\"}}', phrase_secret),
        ("token={w}", lambda: _pick(_ALNUM, 10) + "=" + _pick(_ALNUM, 12) + "=="),
        ("AccountKey={w};EndpointSuffix=core.windows.net", lambda: _pick(_B64, 86) + "=="),
        ("secret={w}", lambda: _pick(_ALNUM, 8) + "{" + _pick(_ALNUM, 6) + "}"),
        ("secret: {w}", lambda: "{" + _pick(_ALNUM, 12) + " " + _pick(_ALNUM, 6) + "}"),
        ('password = "{w}"', lambda: _pick(_ALNUM, 6) + '\\"' + _pick(_ALNUM, 6)),
        ("PASS='{w}'", lambda: _pick(_ALNUM, 5) + " " + _pick(_ALNUM, 7) + " " + _pick(_ALNUM, 4)),
        ('PASS="{w}"', lambda: _pick(_ALNUM, 5) + "#" + _pick(_ALNUM, 7) + ";" + _pick(_ALNUM, 4)),
        ("PASS={w} ./run.sh", lambda: _pick(_ALNUM, 5) + "'" + _pick(_ALNUM, 4) + " x'"),
        ("auth=('{w}')", lambda: _pick(_ALNUM, 12)),
        ("[auth]\npassword = {p}\nuser = bob", phrase_secret),
        ("password:\t{p}", phrase_secret),
        ('apiToken := "{w}"', lambda: _pick(_ALNUM, 20) + "==" + _pick(_ALNUM, 4)),
        ("if api_key == '{w}':", lambda: _pick(_ALNUM, 10) + "=" + _pick(_ALNUM, 10)),
        ("X-Api-Key: {p}", phrase_secret),
        ("token: `{w}`", lambda: _pick(_ALNUM, 16) + " " + _pick(_ALNUM, 3)),
        ("grant_type=password&password={w}&username=bob", lambda: _pick(_ALNUM + "%", 14)),
    ]
    for i in range(42):
        template, make = templates[i % len(templates)]
        value = make()
        text = template.replace("{p}", value).replace("{w}", value).replace("{{", "{")
        text = text.replace("}}", "}")
        secrets = tuple(p for p in value.replace('\\"', " ").split() if len(p) >= 4) or (value,)
        cases.append(Case("values", text, secrets))
    return cases


def _multi_line() -> list[Case]:
    """Family 7: values on other lines or before their name: YAML blocks, value-first siblings."""
    blocks = ["|", "|-", "|+", ">", ">-", "|2", ">  # from the vault"]
    heads = [
        "{k}: {b}\n  {v1}\n  {v2}\nuser: bob",
        "db:\n  {k}: {b}\n    {v1}\n\n    {v2}\n  host: db.local\nport: 5432",
        "- {k}: {b}\n    {v1}\n    {v2}\n- name: next",
        '"{k}": {b}\n  {v1}\n  {v2}\nnext: 1',
        "stringData:\n\t{k}: {b}\n\t\t{v1}\n\t\t{v2}\nkind: Secret",
    ]
    cases = []
    for i in range(21):
        key = KEYS[(i * 3 + 1) % len(KEYS)]
        if heads[i % len(heads)].startswith('"') and "-" in key:
            key = "api_key"
        v1, v2 = word_secret(), phrase_secret()
        text = heads[i % len(heads)].format(k=key, b=blocks[i % len(blocks)], v1=v1, v2=v2)
        cases.append(Case("multi_line", text, (v1, *(w for w in v2.split() if len(w) >= 4))))
    siblings = [
        '{{"value": "{v}", "name": "{k}"}}',
        "{{'value': '{v}', 'key': '{k}'}}",
        '{{"Value": "{v}", "Name": "{k}"}}',
        '[{{"Name": "{k}", "Value": "{v}"}}]',
        '{{"Key": "{k}", "Value": "{v}"}}',
        '{{\n  "Value": "{v}",\n  "Name": "{k}"\n}}',
        "- value: {v}\n  name: {k}",
        "- name: PORT\n  value: 8188\n- value: {v}\n  name: {k}",
        "env:\n  - value: '{v}'\n    name: {k}\n  - name: DEBUG\n    value: '1'",
        "variables:\n  - value: {v}\n    key: {k}",
        '{{"Parameter": {{"Name": "/dinoair/{k}", "Type": "SecureString", "Value": "{v}"}}}}',
        '{{"Parameter": {{"Value": "{v}", "Name": "/prod/app/{k}"}}}}',
        "ParameterValue={v},ParameterKey={k}",
        '<add value="{v}" key="{k}" />',
        'az keyvault secret show: {{ "value": "{v}", "name": "{k}" }}',
        '{{"value":"{v}","name":"{k}"}}',
        '  - {{ value: "{v}", name: {k} }}',
        "- Value: {v}\n  Name: {k}\n- Value: 8188\n  Name: PORT",
        "config:\n  value: {v}\n  name: {k}",
        '{{"secretValue": "{v}", "secretName": "{k}"}}',
    ]
    for i, shape in enumerate(siblings):
        key = KEYS[(i * 7 + 2) % len(KEYS)]
        value = word_secret()
        if "secretName" in shape:  # the field names themselves carry the word
            cases.append(Case("multi_line", shape.format(k="app-config", v=value), (value,)))
            continue
        cases.append(Case("multi_line", shape.format(k=key, v=value), (value,)))
    return cases


def _lines_and_code() -> list[Case]:
    """Family 8: whole .env lines with blanks, and source lines that assign a literal.

    The .env lines hold values with blanks and nothing that looks like a command after their
    first word (the whole rest of the line is the value); the source lines assign a literal
    or an opaque value to a secret name, in the code shapes whose call/attribute/subscript
    twins are keep cases (``token = get_token()`` stays, ``token = get_token("lit")`` goes).
    """
    env_lines = [
        "{k}={p}",
        "{k}={p}\nDEBUG=1",
        "# .env\n{k}={p}\nPORT=8188",
        "  {k}={p}",
        "{k}={p}   ",
        "{k}={p} # set by ops",
    ]
    cases = []
    for i in range(20):
        key = KEYS[(i * 5 + 4) % len(KEYS)]
        value = phrase_secret()
        text = env_lines[i % len(env_lines)].format(k=key, p=value)
        words = tuple(w for w in value.split() if len(w) >= 4)
        cases.append(Case("lines_and_code", text, words))
    code = [
        'session = "{v}"',
        "token = {v}",
        'password = get_password("{v}")',
        'api_key = SecretStr("{v}")',
        'token = os.getenv("HF_TOKEN", "{v}")',
        'password = os.environ.get("DB_PASSWORD") or "{v}"',
        "    api_key = '{v}'  # TODO remove",
        'session = requests.Session(); session.auth = ("bob", "{v}")',
        'self.token = "{v}"',
        'cfg["api_key"] = "{v}"',
        "client_secret = b'{v}'",
        'token = f"{v}"',
        "password = {v}.strip()",
        'hf_token = "{v}" if ci else get_token()',
        "session_token = {v}; refresh()",
        'token: str = "{v}"',
        'password = getpass.getpass() or "{v}"',
        'credentials = Credentials(token="{v}")',
        'auth = HTTPBasicAuth("bob", "{v}")',
        'secret_key = os.environ["SECRET_KEY"] + "{v}"',
    ]
    for shape in code:
        value = _pick(_ALNUM, 24)
        cases.append(Case("lines_and_code", shape.format(v=value), (value,)))
    return cases


FAMILIES = {
    "operators": _operators(),
    "shapes": _shapes(),
    "names": _names(),
    "command_line": _command_lines(),
    "vendors": _vendors(),
    "values": _values(),
    "multi_line": _multi_line(),
    "lines_and_code": _lines_and_code(),
    **last_tenth.FAMILIES,
}

KEEP = (
    # digests, commit ids, trace ids, versions, relative paths, prose
    "sha256: e1441589a6f3c5a53f5f54d0975a18a7feb7cdf0b0dee276dfc3331ae376a053",
    "HEAD is now at 4f2c9a1 Merge pull request #1234 from org/fix-tokenizers",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "session_id=6f9c2b1e8d4a4c0f9e7d3b2a1c0f9e8d",
    "torch==2.1.2+cu121 numpy>=1.26.4 Python 3.11.7",
    "models/checkpoints/sd_xl_base_1.0.safetensors",
    "./venv/lib/python3.11/site-packages",
    "Password authentication failed, check your credentials and try again.",
    "The token was rejected; run the login command again.",
    # keep-words as keys
    "author=Jane Roe",
    "authority: local",
    "tokenizer: fast",
    "tokenizers==0.15.0",
    "secretstorage==3.3.3 jwt==1.3.1 keyring==24.3.0 passlib>=1.7",
    "keyboard_layout=us",
    "monkey=patched",
    "sort_key=name",
    "primary_key: id",
    "cache_key=models-v2",
    "foreign_key = user_id",
    "public_key: ssh-ed25519.pub",
    "max_tokens=512",
    "total_tokens: 2048",
    'pad_token: "[PAD]"',
    "token_type: bearer",
    "password_length: 12",
    "secret_name: app-credentials",
    "missing_keys=['model.diffusion.0.weight']",
    # code that names a secret without holding one
    "client = OpenAI(api_key=api_key)",
    "token = self.token",
    "password = None",
    "api_key: Optional[str] = None",
    'if not token: raise ValueError("no token")',
    "def get_token(self) -> str:",
    "jwt.exceptions.InvalidTokenError: Signature has expired",
    "KeyError: 'model.embed_tokens.weight'",
    'TokenExpiredError: token expired at 12:30:45 "please log in"',
    "private: true",
    '{"token": "", "password": null}',
    # command lines without credentials
    "pip install -U torch --user",
    "docker run -u 1000:1000 -p 8080:80 comfyui",
    "python -m pytest -p no:cacheprovider -q",
    "git push -u origin main",
    "mkdir -p models/checkpoints",
    # lookalikes of vendor prefixes
    "SKIPPED 3 tests; DISK full",
    "dapi-gateway started",
    "sk_live is not configured",
    "hf_hub_download(repo_id, filename)",
    "SG.recommended settings",
    "dp.precision = fp16",
    "AKIAsmall",
    "Basic installation complete",
    "Bearer token required",
    # source lines that say where a secret comes from (a call, a subscript, a reference)
    "session = requests.Session()",
    "    session = requests.Session()",
    "token = get_token()",
    "hf_token = huggingface_hub.get_token()",
    'password = os.environ["DB_PASSWORD"]',
    "api_key = os.environ['OPENAI_API_KEY']",
    'token = os.getenv("HF_TOKEN")',
    'token = os.environ.get("HF_TOKEN", "")',
    "api_key = self.api_key",
    "token = settings.HF_TOKEN",
    "password = keyring.get_password(SERVICE, user)",
    'secret = cfg["client_secret"]',
    "session = aiohttp.ClientSession(timeout=timeout)",
    "    token = self._load_token(path, retries=3)",
    "auth_token = response.json()['access_token']",
    "credentials = service_account.Credentials.from_service_account_file(path)",
    '  File "app.py", line 12, in main\n    token = get_token()',
    "const token = getToken();",
    'String password = System.getenv("DB_PASSWORD");',
    # sibling fields and blocks that hold no secret
    "- value: 8188\n  name: PORT",
    '{"value": "info", "name": "LOG_LEVEL"}',
    "- name: PORT\n  value: 8188\n- name: HOST\n  value: comfyui",
    "description: |\n  Enter your password below.\n  It is never stored.\nnext: 1",
    "password_hint: >-\n  the usual one\nuser: bob",
    "password: |\nuser: bob",
)
