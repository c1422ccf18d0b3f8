"""Values off the key's line or shape: YAML block scalars, value-first siblings, .env lines, code.

Each rule alone, with the exact output pinned both ways: what goes and what must stay readable.
The corpus (``tests/privacy_corpus``, families ``multi_line`` and ``lines_and_code``) runs the
same shapes through the whole chain with generated secrets.
"""

from __future__ import annotations

import pytest

from otel_local_exporter import sanitize as san
from otel_local_exporter.sanitize import Sanitizer
from otel_local_exporter.sanitize.values import is_code, runs_a_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password: |\n  a b\n  c\nuser: bob", "password: |\n  <SECRET>\nuser: bob"),
        ("password: >-\n  a\n\n  b\n\nuser: bob", "password: >-\n  <SECRET>\n\nuser: bob"),
        (
            "k:\n  api_key: |2  # x\n    a\n  host: h",
            "k:\n  api_key: |2  # x\n    <SECRET>\n  host: h",
        ),
        ("- HF_TOKEN: >+\n    a\n- x: 1", "- HF_TOKEN: >+\n    <SECRET>\n- x: 1"),
        ('"token": |\r\n  a\r\nnext: 1', '"token": |\r\n  <SECRET>\r\nnext: 1'),
        ("password: |\n  a\n  b", "password: |\n  <SECRET>"),  # the block ends the text
        # nothing in the block, or a key that only describes a secret: unchanged
        ("password: |\nuser: bob", "password: |\nuser: bob"),
        ("password_hint: |\n  ask\nuser: bob", "password_hint: |\n  ask\nuser: bob"),
        ("description: |\n  the password\nx: 1", "description: |\n  the password\nx: 1"),
        ("echo a | grep token: > out", "echo a | grep token: > out"),
    ],
)
def test_secret_block(text: str, expected: str) -> None:
    assert san.SECRET_BLOCK(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"value": "v1", "name": "API_KEY"}', '{"value": "<SECRET>", "name": "API_KEY"}'),
        ('{"key": "API_KEY", "value": "v1"}', '{"key": "API_KEY", "value": "<SECRET>"}'),
        ('{"Value": "v1", "Name": "DB_PASS"}', '{"Value": "<SECRET>", "Name": "DB_PASS"}'),
        (
            '{"Name": "/app/db_password", "Value": "v"}',
            '{"Name": "/app/db_password", "Value": "<SECRET>"}',
        ),
        ("- value: v1\n  name: HF_TOKEN", "- value: <SECRET>\n  name: HF_TOKEN"),
        ("- name: HF_TOKEN\n  value: v1", "- name: HF_TOKEN\n  value: <SECRET>"),
        (
            '{\n  "Value": "v1",\n  "Key": "token"\n}',
            '{\n  "Value": "<SECRET>",\n  "Key": "token"\n}',
        ),
        # a name before decides alone; a new item or another object is not a sibling
        (
            "- name: PORT\n  value: 8188\n- name: HF_TOKEN",
            "- name: PORT\n  value: 8188\n- name: HF_TOKEN",
        ),
        ("- value: 8188\n- name: HF_TOKEN", "- value: 8188\n- name: HF_TOKEN"),
        ('{"value": 1}, {"name": "API_KEY"}', '{"value": 1}, {"name": "API_KEY"}'),
        ("value: 8188\n    name: HF_TOKEN", "value: 8188\n    name: HF_TOKEN"),
        ('{"value": "info", "name": "LOG_LEVEL"}', '{"value": "info", "name": "LOG_LEVEL"}'),
        (
            "- name: X\n  value: a\n- value: b\n  name: TOKEN",
            "- name: X\n  value: a\n- value: <SECRET>\n  name: TOKEN",
        ),
    ],
)
def test_secret_sibling_in_either_order(text: str, expected: str) -> None:
    assert san.SECRET_SIBLING(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a whole line NAME=value with nothing command-like after it: a .env line
        ("PASSWORD=correct horse battery", "PASSWORD=<SECRET>"),
        ("DEBUG=1\nAPI_KEY=a b c\nPORT=8188", "DEBUG=1\nAPI_KEY=<SECRET>\nPORT=8188"),
        ("  HF_TOKEN=a b  ", "  HF_TOKEN=<SECRET>  "),
        # a shell line: the value ends at the blank, the command stays
        ("HF_TOKEN=abc python run.py", "HF_TOKEN=<SECRET> python run.py"),
        ("HF_TOKEN=abc ./run.sh", "HF_TOKEN=<SECRET> ./run.sh"),
        ("HF_TOKEN=abc main.py", "HF_TOKEN=<SECRET> main.py"),
        ("HF_TOKEN=abc DEBUG=1 make", "HF_TOKEN=<SECRET> DEBUG=1 make"),
        ("HF_TOKEN=abc serve --port 80", "HF_TOKEN=<SECRET> serve --port 80"),
        ("HF_TOKEN=abc; echo ok", "HF_TOKEN=<SECRET>; echo ok"),
        # not a whole line: a command before it, so a shell word
        ("export HF_TOKEN=abc def", "export HF_TOKEN=<SECRET> def"),
        ("run with token=abc now", "run with token=<SECRET> now"),
    ],
)
def test_env_line_or_shell_line(text: str, expected: str) -> None:
    assert san.SECRET_ASSIGNMENT(text) == expected


@pytest.mark.parametrize(
    "rest",
    [
        " python x",
        " ./x",
        " C:\\x",
        " x.py",
        " A=1 x",
        " x --y",
        " x -y",
        "; x",
        " | x",
        " `x`",
        " $(x)",
    ],
)
def test_runs_a_command(rest: str) -> None:
    assert runs_a_command(rest)


@pytest.mark.parametrize("rest", ["", "  ", " horse battery", " staple 42", " {x} =9", " lunar!"])
def test_rest_of_a_dotenv_value(rest: str) -> None:
    assert not runs_a_command(rest)


CODE = [
    "requests.Session()",
    "get_token()",
    'os.environ["DB_PASSWORD"]',
    "os.environ['X']",
    'os.getenv("HF_TOKEN", "")',
    "self.api_key",
    "cls.token",
    "settings.HF_TOKEN",
    "keyring.get_password(SERVICE, user)",
    'cfg["client_secret"]',
    "aiohttp.ClientSession(timeout=timeout)",
    "self._load_token(path, retries=3)",
    "response.json()['access_token']",
    "Credentials.from_file(Path(p), scopes=SCOPES)",
    "getToken();",
    "data[0]",
]
NOT_CODE = [
    "abc123",
    "hunter",
    '"literal"',
    "hunter.two",
    "Hunter.Two",
    'get_password("hunter2")',
    'SecretStr("x y")',
    'os.getenv("HF_TOKEN", "hf_default1")',
    'os.environ.get("X") or "lit"',
    "b'abc'",
    'f"abc"',
    "abc.strip() + 'x'",
    "get_token() # was abc",
    "a" * 60 + "(" * 50 + ")" * 50,
    "f(" * 200,
]


@pytest.mark.parametrize("value", CODE)
def test_code_right_hand_sides_are_kept(value: str) -> None:
    assert is_code(value)
    line = f"token = {value}"
    s = Sanitizer(user="alice", home="/home/alice", host="alice-laptop")
    assert s.text(line) == line
    assert not s.counts


@pytest.mark.parametrize("value", CODE)
def test_code_inside_quotes_is_a_literal(value: str) -> None:
    s = Sanitizer(user="alice", home="/home/alice", host="alice-laptop")
    quote = "'" if '"' in value else '"'
    assert s.text(f"password = {quote}{value}{quote}") == f"password = {quote}<SECRET>{quote}"


@pytest.mark.parametrize("value", NOT_CODE)
def test_literals_and_opaque_values_still_go(value: str) -> None:
    assert not is_code(value)
    s = Sanitizer(user="alice", home="/home/alice", host="alice-laptop")
    assert "<SECRET>" in s.text(f"password = {value}")
    assert s.counts["secret"] >= 1
