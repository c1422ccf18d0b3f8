"""The sanitizer: each rule alone, the chain, ``value()``, counts, and properties under hypothesis.

Privacy is the product, so the property tests build the sensitive values a real installer run
meets (login names, home folders in every slash style, e-mails, IPs, URLs with credentials, each
kind of token), hide them in prose, tracebacks, pip and git output, and prove that none of them
survives. The readability tests pin the other side: what must stay readable stays, exactly.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
import string
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_local_exporter import sanitize as san
from otel_local_exporter.sanitize import MAX_DEPTH, Rule, Sanitizer, is_secret_key

USER, HOME, HOST = "alice", "/home/alice", "alice-laptop"


@pytest.fixture
def s() -> Sanitizer:
    return Sanitizer(user=USER, home=HOME, host=HOST)


def strip_placeholders(text: str) -> str:
    return re.sub(r"<(?:URL|EMAIL|PATH|USER|HOST|IP|SECRET|TRUNCATED|UNSANITIZABLE)>", " ", text)


def word_in(word: str, text: str) -> bool:
    """Is ``word`` in ``text`` as a word, any case, by the sanitizer's own notion of a word?"""
    if len(word) >= 3:
        pattern = rf"(?<![^\W_]){re.escape(word)}(?![^\W_])"
    else:
        pattern = rf"(?<!\w){re.escape(word)}(?!\w)"
    return re.search(pattern, strip_placeholders(text), re.IGNORECASE) is not None


# -- each rule alone -------------------------------------------------------------------------


def test_rules_are_pure_functions_with_counts() -> None:
    rule = san.EMAIL
    assert isinstance(rule, Rule)
    assert rule("mail bob@example.com now") == "mail <EMAIL> now"
    assert rule.apply("a@example.com b@example.org") == ("<EMAIL> <EMAIL>", 2)
    assert rule.apply("nothing here") == ("nothing here", 0)


PRIVATE_KEY_BLOCK = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"
    "QyNTUxOQAAACDsomethingsomething=\n-----END OPENSSH PRIVATE KEY-----"
)


def test_private_key_block() -> None:
    assert san.PRIVATE_KEY(f"key:\n{PRIVATE_KEY_BLOCK}\ndone") == "key:\n<SECRET>\ndone"
    truncated = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow"
    assert san.PRIVATE_KEY(truncated) == "x\n<SECRET>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def.ghi123", "Authorization: <SECRET>"),
        ("curl -H 'authorization: Basic dXNlcjpwYXNz'", "curl -H 'authorization: <SECRET>'"),
        ('{"Authorization": "token abc123"}', '{"Authorization": "<SECRET>"}'),
        ("Proxy-Authorization: Digest username=x, nonce=y", "Proxy-Authorization: <SECRET>"),
        ("Set-Cookie: sid=abc; Path=/", "Set-Cookie: <SECRET>"),
        ("Cookie: a=1; b=2", "Cookie: <SECRET>"),
        ("Authorization required", "Authorization required"),
    ],
)
def test_auth_header(text: str, expected: str) -> None:
    assert san.AUTH_HEADER(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("huggingface-cli login --token abc123", "huggingface-cli login --token <SECRET>"),
        ("--hf-token 'abc def' --quiet", "--hf-token '<SECRET>' --quiet"),
        ('--password "p w"', '--password "<SECRET>"'),
        ("pip install --no-deps --index-url x", "pip install --no-deps --index-url x"),
        ("--token --next", "--token --next"),
    ],
)
def test_secret_named_flag(text: str, expected: str) -> None:
    assert san.SECRET_ASSIGNMENT(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HF_TOKEN=abc123", "HF_TOKEN=<SECRET>"),
        ("export GITHUB_TOKEN=xyz", "export GITHUB_TOKEN=<SECRET>"),
        ("password: hunter2", "password: <SECRET>"),
        ("db_passwd=x y", "db_passwd=<SECRET>"),  # a .env line: the whole rest
        ("db_passwd=x ./migrate --all", "db_passwd=<SECRET> ./migrate --all"),  # a command
        ('{"api_key": "abc 123", "n": 1}', '{"api_key": "<SECRET>", "n": 1}'),
        ("{'client_secret': 'shh'}", "{'client_secret': '<SECRET>'}"),
        ('{\\"token\\": \\"abc\\"}', '{\\"token\\": \\"<SECRET>\\"}'),
        ("https://x/y?access_token=abc&page=2", "https://x/y?access_token=<SECRET>&page=2"),
        ("AWS_SECRET_ACCESS_KEY=abcd/ef+gh", "AWS_SECRET_ACCESS_KEY=<SECRET>"),
        ("apiKey: k-123", "apiKey: <SECRET>"),
        ("sessionid=abc", "sessionid=<SECRET>"),
        ("credentials: u:p@x", "credentials: <SECRET>"),
        ("PASSPHRASE=x", "PASSPHRASE=<SECRET>"),
        # keys that only look like secrets, and empty values, stay
        ("tokenizer: fast", "tokenizer: fast"),
        ("author: me", "author: me"),
        ("AuthenticationError: invalid", "AuthenticationError: invalid"),
        ("session_id=abc", "session_id=abc"),
        ('{"token": ""}', '{"token": ""}'),
        ("password authentication failed", "password authentication failed"),
        ("token=<SECRET>", "token=<SECRET>"),
    ],
)
def test_secret_assignment(text: str, expected: str) -> None:
    assert san.SECRET_ASSIGNMENT(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abcdef123456", "Bearer <SECRET>"),
        ("bearer eyJhbGciOi.x", "bearer <SECRET>"),
        ("Basic dXNlcjpwYXNz", "Basic <SECRET>"),
        ("Basic installation complete", "Basic installation complete"),
        ("Bearer token required", "Bearer token required"),
    ],
)
def test_auth_scheme(text: str, expected: str) -> None:
    assert san.AUTH_SCHEME(text) == expected


TOKENS = [
    "hf_" + "aB3" * 11 + "x",
    "ghp_" + "a1B2" * 9,
    "gho_" + "Z9" * 18,
    "ghu_" + "q" * 36,
    "ghs_" + "k7" * 18,
    "github_pat_11ABCDEFG0" + "x" * 12 + "_" + "y" * 59,
    "sk-" + "A1b2" * 12,
    "sk-proj-" + "Ab_-" * 20,
    "sk-ant-api03-" + "z" * 40,
    "AKIA" + "ABCDEFGHIJ234567",
    "ASIA" + "ABCDEFGHIJ234567",
    "AIza" + "S" * 35,
    "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoaWprbG1ub3BxcnN0",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
    "glpat-" + "x1" * 10,
    "npm_" + "a1" * 18,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF",
]


@pytest.mark.parametrize("token", TOKENS)
def test_known_tokens(token: str) -> None:
    assert san.KNOWN_TOKENS(f"use {token} now") == "use <SECRET> now"
    assert san.KNOWN_TOKENS(f"'{token}',") == "'<SECRET>',"


@pytest.mark.parametrize(
    "text",
    [
        "hf_hub_download(repo_id, filename)",
        "hf_transfer is not installed",
        "task-runner-installation-step-one",
        "scikit-learn==1.4.0 pypi-simple",
        "AKIAsmall",
        "e1441589a6f3c5a53f5f54d0975a18a7feb7cdf0b0dee276dfc3331ae376a053",
    ],
)
def test_known_tokens_leave_lookalikes(text: str) -> None:
    assert san.KNOWN_TOKENS(text) == text


def test_github_prefixes_go_whatever_follows() -> None:
    assert san.KNOWN_TOKENS("raise X(f'ghp_{token}')") == "raise X(f'<SECRET>{token}')"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.com/a/b?x=1.", "see <URL>."),
        ("(http://user:tok@host:8080/p)", "(<URL>)"),
        ("'https://github.com/org/repo.git/'", "'<URL>'"),
        ("git+https://github.com/x/y.git@main", "<URL>"),
        ("ssh://git@host:22/x and s3://bucket/key", "<URL> and <URL>"),
        ("postgres://u:p@db/x, ftp://f/x; file:///home/a/b", "<URL>, <URL>; <URL>"),
        ("https://h/?token=<SECRET>&a=1 done", "<URL> done"),
        ("HTTPS://EXAMPLE.COM/X", "<URL>"),
    ],
)
def test_urls(text: str, expected: str) -> None:
    out = text
    for rule in (san.HTTP_URL, san.URL):
        out = rule(out)
    assert out == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("git@github.com:org/repo.git", "<URL>"),
        ("remote git@gitlab.example.org:team/proj.", "remote <URL>."),
        ("bob@host:22 refused", "bob@host:22 refused"),
    ],
)
def test_scp_url(text: str, expected: str) -> None:
    assert san.SCP_URL(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob.smith+tag@example.co.uk.", "<EMAIL>."),
        ("Author: Bob <bob@example.com>", "Author: Bob <<EMAIL>>"),
        ("ssh alice@server", "ssh <EMAIL>"),
        ("root@10.0.0.7 said", "<EMAIL> said"),
        ("zoë@exämple.de", "<EMAIL>"),
        ("@decorator and react@18.2.0", "@decorator and react@18.2.0"),
    ],
)
def test_email(text: str, expected: str) -> None:
    assert san.EMAIL(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/home/bob/.venv/lib/python3.11/site-packages/git/cmd.py",
            "<PATH>/site-packages/git/cmd.py",
        ),
        ('File "/Users/mark/x.py", line 3', 'File "<PATH>", line 3'),
        (
            "in /home/bob/venv/lib/python3.11/site-packages (from x)",
            "in <PATH>/site-packages (from x)",
        ),
        ("/usr/lib/node_modules/npm/bin/npm-cli.js", "/usr/lib/node_modules/npm/bin/npm-cli.js"),
        ("/tmp/build-1/x.whl /root/.cache/pip", "<PATH> <PATH>"),
        ("/var/folders/ab/cd/T/tmpx", "<PATH>"),
        (
            "/usr/lib/python3.11/subprocess.py /dev/null /etc/hosts",
            "/usr/lib/python3.11/subprocess.py /dev/null /etc/hosts",
        ),
        ("/usr/home/bob/x and /mnt/c/Users/bob/x", "<PATH> and <PATH>"),
        ("foo/home/alice/x", "foo<PATH>"),
        ("PATH=/usr/bin:/home/bob/.local/bin", "PATH=/usr/bin:<PATH>"),
        ("saved to /tmp/out/x.json.", "saved to <PATH>."),
        (
            "/home/bob/node_modules/@types/node/index.d.ts",
            "<PATH>/node_modules/@types/node/index.d.ts",
        ),
        (
            "/tmp alone, /, and/or 1/2 ./venv/lib ../x models/checkpoints",
            "/tmp alone, /, and/or 1/2 ./venv/lib ../x models/checkpoints",
        ),
        ("<PATH>/site-packages/git/cmd.py", "<PATH>/site-packages/git/cmd.py"),
    ],
)
def test_posix_path(text: str, expected: str) -> None:
    assert san.POSIX_PATH(text) == expected


def test_own_home_anywhere_with_spaces_and_non_ascii() -> None:
    rule = san.posix_path_rule(["/srv/people/bob dylan"])
    assert rule("at /srv/people/bob dylan/x.py today") == "at <PATH> today"
    assert rule("home is /srv/people/bob dylan") == "home is <PATH>"
    assert rule("/srv/people/bob dylan/.venv/lib/site-packages/a.py") == (
        "<PATH>/site-packages/a.py"
    )
    assert san.posix_path_rule(["/home/zoë"])("cd /home/zoë/Bilder") == "cd <PATH>"
    assert san.posix_path_rule(["/root"])("/root and /rootfs/x") == "<PATH> and <PATH>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C:\\Users\\John Smith\\AppData\\Local\\x.py", "<PATH>"),
        ("C:/Users/bob/x.py", "<PATH>"),
        ("C:\\\\Users\\\\bob\\\\x", "<PATH>"),
        ("'D:\\projects\\My App\\x.exe' failed", "'<PATH>' failed"),
        (
            "C:\\Users\\al\\venv\\Lib\\site-packages\\torch\\x.py",
            "<PATH>\\site-packages\\torch\\x.py",
        ),
        ("C:\\ alone", "C:\\ alone"),
        ("https://x", "https://x"),
    ],
)
def test_windows_path(text: str, expected: str) -> None:
    assert san.WINDOWS_PATH(text) == expected


def test_own_windows_home_at_the_very_end() -> None:
    rule = san.windows_home_rule(["C:\\Users\\Zoë Smith"])
    assert rule is not None
    for form in (
        "C:\\Users\\Zoë Smith",
        "C:/Users/Zoë Smith",
        "C:\\\\Users\\\\Zoë Smith",
        "c:\\users\\zoë smith",
    ):
        assert rule(f"home {form}") == "home <PATH>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\Users\\carol\\x \\\\Users\\\\carol\\\\y", "<PATH> <PATH>"),
        ("\\\\fileserver\\share\\x.txt", "<PATH>"),
        ("models\\checkpoints\\x.safetensors", "models\\checkpoints\\x.safetensors"),
    ],
)
def test_backslash_path(text: str, expected: str) -> None:
    assert san.BACKSLASH_PATH(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("~/projects/novel.txt", "<PATH>"),
        ("~bob/x and ~ alone", "<PATH> and ~ alone"),
        ("$HOME/.cache/x ${HOME}/y", "<PATH> <PATH>"),
        ("%USERPROFILE%\\AppData\\x", "<PATH>"),
        ("f'{Path.home()}/secret-project'", "f'<PATH>'"),
        ("{model}/{file} and ~100 MB", "{model}/{file} and ~100 MB"),
    ],
)
def test_home_relative_path(text: str, expected: str) -> None:
    assert san.HOME_RELATIVE_PATH(text) == expected


def test_user_rule_word_bounded_any_case() -> None:
    rule = san.name_rule("user", "user", "<USER>", ["alice"])
    assert rule is not None
    assert rule("Alice ALICE alice_dev alice-laptop alice.smith") == (
        "<USER> <USER> <USER>_dev <USER>-laptop <USER>.smith"
    )
    assert rule("malice alicent") == "malice alicent"


def test_short_user_names_need_whole_words() -> None:
    rule = san.name_rule("user", "user", "<USER>", ["al"])
    assert rule is not None
    assert rule("al said al.x to Al") == "<USER> said <USER>.x to <USER>"
    assert rule("al_x also alpha cal") == "al_x also alpha cal"


def test_names_never_rewrite_placeholders() -> None:
    rule = san.name_rule("user", "user", "<USER>", ["path", "ip"])
    assert rule is not None
    assert rule("<PATH> and <IP>, but path and IP") == "<PATH> and <IP>, but <USER> and <USER>"


@pytest.mark.parametrize(
    "ip",
    ["10.0.0.1", "255.255.255.255", "0.0.0.0", "192.168.001.010", "1.2.3.4"],
)
def test_ipv4(ip: str) -> None:
    assert san.IPV4(f"from {ip}:8080, {ip}.") == "from <IP>:8080, <IP>."


@pytest.mark.parametrize(
    "text",
    ["Python 3.11.7", "v0.3.10", "1.45.2", "v1.2.3.4", "1.2.3.4.5", "256.1.1.1", "10.0.0"],
)
def test_ipv4_leaves_versions(text: str) -> None:
    assert san.IPV4(text) == text


@pytest.mark.parametrize(
    "ip",
    [
        "::1",
        "fe80::1%eth0",
        "2001:db8::ff00:42:8329",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "::ffff:192.0.2.1",
        "1::",
        "fe80::",
        "00:1a:2b:3c:4d:5e",
        "00-1A-2B-3C-4D-5E",
    ],
)
def test_ipv6_and_mac(ip: str) -> None:
    assert san.IPV6(f"addr {ip} ({ip}) [{ip}]:80 {ip}: refused") == (
        "addr <IP> (<IP>) [<IP>]:80 <IP>: refused"
    )


@pytest.mark.parametrize(
    "text",
    [
        "at 12:30:45",
        "2026-11-27T23:10:20.123Z",
        "eta 0:00:00",
        "std::vector",
        "a :: b",
        "2024-01-01",
        "de:ad",
    ],
)
def test_ipv6_leaves_times(text: str) -> None:
    assert san.IPV6(text) == text


def test_extra_secrets_are_replaced_literally() -> None:
    s = Sanitizer(user="u1x", home="/home/u1x", host="h1x", extra_secrets=["s3cr3t!", "", "x y"])
    assert s.text("pw s3cr3t! and x y") == "pw <SECRET> and <SECRET>"


# -- the chain: what stays readable, exactly --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "and/or 1/2 Python 3.11 pip 23.2.1 HTTP 503",
        "error: could not resolve host: github.com",
        "site-packages/git/cmd.py ComfyUI/models/checkpoints models/checkpoints/x.safetensors",
        "Successfully installed torch-2.1.2 numpy-1.26.4 safetensors-0.4.2",
        "Receiving objects: 100% (14632/14632), 24.19 MiB | 3.21 MiB/s, done.",
        "HEAD is now at 1a2b3c4 Merge pull request #42 from someone/fix",
        "v0.3.10 1.45.2 3.11.7 at 12:30:45",
        "sha256 e1441589a6f3c5a53f5f54d0975a18a7feb7cdf0b0dee276dfc3331ae376a053",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "Traceback (most recent call last):",
        "tokenizer_config.json: 100%",
        "ComfyUI root is ready; installed 4 workflows in 3.2 s",
        "",
    ],
)
def test_prose_stays_readable(s: Sanitizer, text: str) -> None:
    assert s.text(text) == text
    assert not s.counts


def test_the_chain_end_to_end(s: Sanitizer) -> None:
    text = (
        'File "/home/alice/DinoAir/venv/lib/python3.11/site-packages/git/cmd.py", line 12\n'
        "fatal: unable to access 'https://alice:ghp_" + "x" * 36 + "@github.com/a/b.git/'\n"
        "user alice on alice-laptop (Alice@Example.com) from 10.1.2.3 and fe80::1%eth0\n"
        "HF_TOKEN=hf_" + "a" * 34 + " C:\\Users\\Alice\\x ~/notes.txt\n"
    )
    assert s.text(text) == (
        'File "<PATH>/site-packages/git/cmd.py", line 12\n'
        "fatal: unable to access '<URL>'\n"
        "user <USER> on <HOST> (<EMAIL>) from <IP> and <IP>\n"
        "HF_TOKEN=<SECRET> <PATH> <PATH>\n"
    )
    assert dict(s.counts) == {
        "path": 3,
        "url": 1,
        "user": 1,
        "host": 1,
        "email": 1,
        "ip": 2,
        "secret": 2,
    }


def test_host_is_replaced_before_the_user_it_contains(s: Sanitizer) -> None:
    assert s.text("alice-laptop.local alice-laptop ALICE-LAPTOP") == "<HOST>.local <HOST> <HOST>"


def test_full_and_short_host_names() -> None:
    s = Sanitizer(user="u1x", home="/home/u1x", host="build-07.corp.example.com")
    assert s.text("build-07.corp.example.com or build-07 or BUILD-07x") == (
        "<HOST> or <HOST> or BUILD-07x"
    )


def test_sanitizing_twice_changes_nothing(s: Sanitizer) -> None:
    text = s.text(
        'File "C:\\Users\\Alice\\x.py" token=abc https://x/y alice@example.com 10.0.0.1 '
        "Bearer abcdef12345 /home/alice/site-packages/x ~/x [::1]:80"
    )
    assert s.text(text) == text


# -- value() ---------------------------------------------------------------------------------


def test_value_walks_nested_structures(s: Sanitizer) -> None:
    data = {
        "path": "/home/alice/x.py",
        "nested": [{"deep": ("alice", 3, 2.5, True, None)}, ["10.0.0.1", False]],
        "/home/alice/key-as-path": 1,
        "count": 7,
        7: "alice",
        None: 1.5,
        "api_key": "abc",
        "hf_token": "hf_whatever",
        "password": {"even": "nested"},
        "Authorization": "Bearer x",
        "set-cookie": "x",
        "session": "s",
        "tokenizer": "fast",
        "author": "me",
        "session_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    assert s.value(data) == {
        "path": "<PATH>",
        "nested": [{"deep": ("<USER>", 3, 2.5, True, None)}, ["<IP>", False]],
        "<PATH>": 1,
        "count": 7,
        7: "<USER>",
        None: 1.5,
        "tokenizer": "fast",
        "author": "me",
        "session_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    assert s.counts["secret"] == 6


def test_value_keeps_scalars_and_stringifies_the_rest(s: Sanitizer) -> None:
    assert s.value(42) == 42 and s.value(-1.5) == -1.5 and s.value(True) is True
    assert s.value(None) is None
    assert s.value(Path("/home/alice/x")) == "<PATH>"
    assert s.value(b"alice") == "b'<USER>'"
    assert s.value({1, 2}) in ("{1, 2}", "{2, 1}")


@pytest.mark.parametrize("kind", ["list", "dict", "tuple"])
def test_value_survives_10000_deep_nesting(s: Sanitizer, kind: str) -> None:
    deep: Any = "/home/alice/x"
    for _ in range(10_000):
        deep = {"k": deep} if kind == "dict" else [deep] if kind == "list" else (deep,)
    out = s.value(deep)
    depth = 0
    while not isinstance(out, str):
        out = out["k"] if kind == "dict" else out[0]
        depth += 1
    assert out == "<TRUNCATED>" and depth == MAX_DEPTH
    assert json.dumps(s.value(deep))  # and the result is JSON-ready


def test_value_survives_a_cycle(s: Sanitizer) -> None:
    loop: list[Any] = ["alice"]
    loop.append(loop)
    out = s.value(loop)
    assert out[0] == "<USER>" and "<TRUNCATED>" in json.dumps(out)


def test_is_secret_key() -> None:
    for key in (
        "token",
        "HF_TOKEN",
        "installer.arg.hf_token",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "API-KEY",
        "auth",
        "oauth_token",
        "Authorization",
        "credential",
        "credentials",
        "private_key",
        "cookie",
        "Set-Cookie",
        "session",
        "sessionid",
        "session_token",
        "jwt",
        "accessKey",
    ):
        assert is_secret_key(key), key
    for key in (
        "tokenizer",
        "author",
        "authentication_method",
        "session_id",
        "keyboard",
        "installer.step.status",
        "error.type",
        "passed",
        "monkey",
        "user_id",
    ):
        assert not is_secret_key(key), key


# -- counts, cache, robustness ---------------------------------------------------------------


def test_counts_are_right_with_the_cache(s: Sanitizer) -> None:
    line = "alice at 10.0.0.1 and 10.0.0.2"
    for _ in range(3):
        assert s.text(line) == "<USER> at <IP> and <IP>"
    assert dict(s.counts) == {"user": 3, "ip": 6}
    s.reset_counts()
    assert not s.counts
    s.text(line)
    assert dict(s.counts) == {"user": 1, "ip": 2}


def test_counts_are_thread_safe(s: Sanitizer) -> None:
    def work(i: int) -> None:
        for j in range(300):
            s.text(f"alice {i} {j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.counts["user"] == 1200


def test_text_never_raises(s: Sanitizer, caplog: pytest.LogCaptureFixture) -> None:
    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("no")

    caplog.set_level("DEBUG", logger="otel_local_exporter.sanitize")
    assert s.text(Bad()) == "<UNSANITIZABLE>"  # type: ignore[arg-type]
    assert s.value({"k": Bad()}) == {"k": "<UNSANITIZABLE>"}
    assert "could not sanitize" in caplog.text
    assert s.text(123) == "123"  # type: ignore[arg-type]
    assert s.text("lone \udc80 surrogate /home/alice/x") == "lone \udc80 surrogate <PATH>"


@pytest.mark.parametrize("char", ["a", "/", ":", "-", "@", ".", "_", "\\", "~", "1", " ", "A"])
def test_no_catastrophic_backtracking(s: Sanitizer, char: str) -> None:
    for text in (char * 100_000, (char + "x") * 50_000, ("alice" + char) * 20_000):
        start = time.perf_counter()
        s.text(text)
        assert time.perf_counter() - start < 5


def test_detects_the_current_user_home_and_host() -> None:
    s = Sanitizer()
    home = str(Path.home())
    assert s.text(f"{home}/x.py") == "<PATH>"
    user = getpass.getuser()
    assert not word_in(user, s.text(f"run by {user} today"))
    host = socket.gethostname()
    if host and host.lower() not in ("localhost", "localhost.localdomain"):
        assert host not in s.text(f"on {host} now")


def test_large_text_matches_line_by_line(s: Sanitizer) -> None:
    """Large texts take a faster road (rules run only on lines with hits); same result."""
    lines = [
        'File "/home/alice/DinoAir/venv/lib/python3.11/site-packages/git/cmd.py", line 12',
        "Downloading https://files.pythonhosted.org/packages/ab/cd/x.whl (62.1 MB)",
        "     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 62.1/62.1 MB 45.6 MB/s eta 0:00:00",
        "token=abc Authorization: Bearer x Bearer abcdef123 --password x",
        "Requirement already satisfied: tokenizers in C:\\Users\\Alice\\venv\\Lib\\site-packages",
        "user ALICE on alice-laptop, git@github.com:alice/x.git alice@example.com 10.0.0.1",
        "hf_" + "a" * 34 + " ghp_" + "b" * 36 + " fe80::1 00:1a:2b:3c:4d:5e ~/x \\\\srv\\share\\x",
        "plain prose, nothing to see 1.2.3 v1.2.3.4",
    ]
    for ascii_only in (False, True):
        chosen = [ln.replace("━", "=") for ln in lines] if ascii_only else lines
        text = "\n".join(chosen * 60)
        assert len(text) > 4096
        expected = "\n".join(
            Sanitizer(user=USER, home=HOME, host=HOST).text(ln) for ln in chosen * 60
        )
        assert s.text(text) == expected


# -- properties ------------------------------------------------------------------------------

NAME_WORDS = [
    "alice",
    "dev",
    "mark",
    "bob",
    "admin",
    "zoë",
    "jörg",
    "al",
    "jo",
    "li",
    "x1",
    "site",
    "line",
    "error",
    "path",
    "ip",
    "user",
    "home",
    "file",
]
names = st.sampled_from(NAME_WORDS) | st.from_regex(r"[a-z][a-z0-9]{1,10}", fullmatch=True)
person_names = (
    st.sampled_from(
        ["Zoë Smith", "Jane Doe", "bob dylan", "Jörg Müller", "O'Neil", "ann-marie", "Li"]
    )
    | names
)
hosts = st.builds(
    lambda a, b, suffix: f"{a}-{b}{suffix}",
    st.from_regex(r"[a-z][a-z0-9]{2,8}", fullmatch=True),
    st.sampled_from(["laptop", "pc", "mbp", "box", "01"]),
    st.sampled_from(["", ".local", ".corp.example.com", ".lan"]),
)


@st.composite
def homes(draw: st.DrawFn, user: str) -> tuple[str, list[str]]:
    """A home folder and the forms it is written in (POSIX and Windows, all slash kinds)."""
    name = draw(st.sampled_from([user, draw(person_names)]))
    if "'" in name:
        name = name.replace("'", "")
    style = draw(st.sampled_from(["linux", "mac", "elsewhere", "windows"]))
    if style == "windows":
        drive = draw(st.sampled_from(["C", "D"]))
        home = f"{drive}:\\Users\\{name}"
        forms = [home, f"{drive}:/Users/{name}", home.replace("\\", "\\\\")]
    else:
        base = {"linux": "/home", "mac": "/Users", "elsewhere": "/srv/people"}[style]
        home = f"{base}/{name}"
        forms = [home]
    return home, forms


emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z0-9][a-z0-9._%+-]{0,14}[a-z0-9]", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["com", "org", "de", "co.uk", "io", "example"]),
)
ipv4s = st.ip_addresses(v=4).map(str)
ipv6s = st.ip_addresses(v=6).map(str).filter(lambda ip: ip != "::")
secret_text = st.text(string.ascii_letters + string.digits, min_size=10, max_size=24)
urls = st.builds(
    lambda scheme, user, password, host, path, token: (
        f"{scheme}://{user}:{password}@{host}/{path}?token={token}&page=2"
    ),
    st.sampled_from(["http", "https", "ftp", "git+https", "ssh", "s3"]),
    st.from_regex(r"[a-z]{3,8}", fullmatch=True),
    secret_text,
    st.from_regex(r"[a-z]{3,10}\.(com|org|example)", fullmatch=True),
    st.from_regex(r"[a-z0-9/]{0,20}", fullmatch=True),
    secret_text,
)


def _body(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


ALNUM = string.ascii_letters + string.digits
secrets = st.one_of(
    _body(ALNUM, 34).map(lambda b: "hf_" + b),
    st.tuples(st.sampled_from("pousr"), _body(ALNUM, 36)).map(lambda t: f"gh{t[0]}_{t[1]}"),
    _body(ALNUM + "_", 70).map(lambda b: "github_pat_" + b),
    st.tuples(st.sampled_from(["", "proj-", "ant-"]), _body(ALNUM + "_-", 40)).map(
        lambda t: f"sk-{t[0]}{t[1]}"
    ),
    _body(string.ascii_uppercase + string.digits, 16).map(lambda b: "AKIA" + b),
    _body(ALNUM + "_-", 60).map(lambda b: "pypi-" + b),
    st.tuples(st.sampled_from("baprs"), _body(ALNUM + "-", 30)).map(lambda t: f"xox{t[0]}-{t[1]}"),
    _body(ALNUM + "_-", 24).map(lambda b: "Bearer x" + b),
    st.tuples(_body(ALNUM, 20), _body(ALNUM, 30), _body(ALNUM, 20)).map(
        lambda t: f"eyJ{t[0]}.eyJ{t[1]}.{t[2]}"
    ),
)


def _secret_value(secret: str) -> str:
    return secret.removeprefix("Bearer ")


TEMPLATES = [
    # prose
    "Installing for {user} ({email}) on {host} from {ip4} and {ip6}; home {home}; key {secret}; "
    "mirror {url}.",
    # a Python traceback
    "Traceback (most recent call last):\n"
    '  File "{home}/DinoAir/venv/lib/python3.11/site-packages/git/cmd.py", line 1135, in run\n'
    "    raise GitCommandError(command, status, stderr)\n"
    "git.exc.GitCommandError: Cmd('git') failed due to: exit code(128)\n"
    "  cmdline: git clone -v -- {url} {home}/DinoAir/ComfyUI\n"
    "  stderr: 'fatal: unable to access '{url}': Could not resolve host: {host}'\n"
    "RuntimeError: user {user} <{email}> at [{ip6}]:8188 via {ip4} with token {secret}",
    # pip error output
    "Collecting torch==2.1.2\n  Downloading {url} (670.2 MB)\n"
    "WARNING: The script f2py is installed in '{home}/.local/bin' which is not on PATH.\n"
    "ERROR: Could not install packages due to an OSError: [Errno 13] Permission denied: "
    "'{home}/DinoAir/venv/lib/python3.11/site-packages/numpy'\n"
    "ERROR: HTTP error 401 while getting {url} (proxy {ip4}, {ip6}) for {user}@{host}; "
    "PIP_INDEX_TOKEN={secret}",
    # git error output
    "Cloning into '{home}/DinoAir/ComfyUI'...\n"
    "fatal: unable to access '{url}': Failed to connect to {host} ({ip4}) port 443\n"
    "remote: Invalid username or password for {user} ({email}).\n"
    "error: RPC failed; {ip6} said {secret}\nhint: ~/.gitconfig of {user}",
]


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), user=names, host=hosts, template=st.sampled_from(TEMPLATES))
def test_no_sensitive_value_survives(
    data: st.DataObject, user: str, host: str, template: str
) -> None:
    home, forms = data.draw(homes(user))
    values = {
        "user": user,
        "host": host,
        "home": data.draw(st.sampled_from(forms)),
        "email": data.draw(emails),
        "ip4": data.draw(ipv4s),
        "ip6": data.draw(ipv6s),
        "url": data.draw(urls),
        "secret": data.draw(secrets),
    }
    s = Sanitizer(user=user, home=home, host=host)
    out = s.text(_fill(template, values))
    raw = [
        values["home"],
        values["email"],
        values["url"],
        _secret_value(values["secret"]),
        values["ip4"],
        values["ip6"],
        host,
    ]
    for value in raw:
        assert value not in out, (value, out)
    password = values["url"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    token = values["url"].rsplit("token=", 1)[1].split("&", 1)[0]
    assert password not in out and token not in out, out
    assert not word_in(user, out), (user, out)
    assert not word_in(host.split(".", 1)[0], out), (host, out)
    assert s.text(out) == out  # sanitizing again changes nothing


@settings(max_examples=100, deadline=None)
@given(
    user=names,
    home_name=person_names,
    slash=st.sampled_from(["\\", "/", "\\\\"]),
    tail=st.sampled_from(
        [
            "",
            "{s}AppData{s}Local{s}x.log",
            "{s}My Documents{s}cv.docx",
            "{s}venv{s}Lib{s}site-packages{s}git{s}cmd.py",
        ]
    ),
    end=st.sampled_from(["", "'", '"', ", then", ".\n", " failed"]),
)
def test_windows_homes_in_every_slash_style(
    user: str, home_name: str, slash: str, tail: str, end: str
) -> None:
    home_name = home_name.replace("'", "")
    home = f"C:\\Users\\{home_name}"
    written = "C:" + slash + "Users" + slash + home_name + tail.format(s=slash)
    s = Sanitizer(user=user, home=home, host="host-x1")
    template = "Permission denied: '{}" + end
    out = s.text(template.format(written))
    assert written not in out and "Users" + slash + home_name not in out, out
    if not word_in(home_name, template + tail):
        assert not word_in(home_name, out), out
    if "site-packages" in tail and not word_in(user, "site-packages"):
        assert out.startswith("Permission denied: '<PATH>" + slash + "site-packages" + slash)


@settings(max_examples=100, deadline=None)
@given(
    ip=st.ip_addresses().map(str).filter(lambda ip: ip != "::"),
    before=st.sampled_from([" ", "(", "[", "'", "=", "\n"]),
    after=st.sampled_from([" ", ")", "]", "'", ",", ".", "\n", ": refused", ""]),
)
def test_every_ip_goes(ip: str, before: str, after: str) -> None:
    s = Sanitizer(user="nobody1", home="/home/nobody1", host="h-01")
    out = s.text(f"connect{before}{ip}{after}")
    assert ip not in out and "<IP>" in out


@settings(max_examples=100, deadline=None)
@given(
    major=st.integers(0, 40),
    minor=st.integers(0, 99),
    patch=st.integers(0, 99),
    word=st.sampled_from(["Python", "pip", "torch", "v", "version", "ComfyUI"]),
)
def test_three_part_versions_stay(major: int, minor: int, patch: int, word: str) -> None:
    text = f"{word} {major}.{minor}.{patch} and {word}-{major}.{minor}.{patch}"
    s = Sanitizer(user="nobody1", home="/home/nobody1", host="h-01")
    assert s.text(text) == text


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_text_is_total_and_stable(text: str) -> None:
    s = Sanitizer(user="alice", home="/home/alice", host="alice-laptop")
    out = s.text(text)
    assert isinstance(out, str) and (out != "<UNSANITIZABLE>" or text == out)
    assert s.text(out) == out


def test_package_has_loggers_and_public_names() -> None:
    from otel_local_exporter.sanitize import detect, engine

    assert engine._logger.name == "otel_local_exporter.sanitize.engine"
    assert detect._logger.name == "otel_local_exporter.sanitize.detect"
    assert {"Sanitizer", "Rule", "is_secret_key", "default_rules"} <= set(san.__all__)
    assert all(hasattr(san, name) for name in san.__all__)
    assert sys.modules["otel_local_exporter.sanitize"] is san


def test_the_chain_is_data_like_structlog_processors() -> None:
    """``default_rules`` is a plain list; ``Sanitizer(rules=...)`` runs any chain, in order."""
    rules = san.default_rules(user=USER, home=HOME, host=HOST)
    assert [r.name for r in Sanitizer(user=USER, home=HOME, host=HOST).rules] == [
        r.name for r in rules
    ]
    assert Sanitizer(rules=rules).text("alice: /home/alice/x") == "<USER>: <PATH>"
    only_email = Sanitizer(rules=[san.EMAIL])
    assert only_email.text("alice@example.com in /home/alice") == "<EMAIL> in /home/alice"
    assert dict(only_email.counts) == {"email": 1}
    assert Sanitizer(rules=[]).text("alice@example.com") == "alice@example.com"
    with pytest.raises(TypeError):
        Sanitizer(rules=[san.EMAIL], user="bob")
    with pytest.raises(TypeError):
        Sanitizer(rules=[str.upper])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "unit",
    [
        "/-u",
        "token=",
        '"token":',
        "<password>",
        "value: ",
        "-p '",
        "mysql -p",
        'os.environ["',
        "api_key ",
        "--token ",
        "name: API_KEY\n",
        "x_token_",
        "setx ",
        "password: |\n",
        "  password: |\n  ",
        "- value: v\n  name: ",
        '{"value": "v", ',
        "token = f(",
        "token = a.b",
        "PASSWORD=a ",
    ],
)
def test_no_catastrophic_backtracking_in_the_secret_grammar(s: Sanitizer, unit: str) -> None:
    """Time grows with the length, not its square: four times the text costs well under the
    16 times a quadratic rule would (a ratio within one run, so a busy machine cannot flip it;
    the best of two tries each, so one slow try cannot either)."""

    def best(chars: int) -> float:
        text = unit * (chars // len(unit))
        tries = []
        for _ in range(2):
            start = time.perf_counter()
            s.text(text)
            tries.append(time.perf_counter() - start)
        return min(tries)

    small, large = best(12_500), best(50_000)
    assert large < max(small, 0.005) * 12, (unit, small, large)
