"""Privacy: runs seeded with personal data leave none of it under the home or in any export.

The installer runs as a subprocess in an environment full of things that identify a person:

* a login name that is an ordinary word (``mark``: ``USER``, ``LOGNAME``, ``USERNAME``),
* a home folder with spaces and non-ASCII letters (``.../Zoë Ångström home``), which is also
  where the telemetry home (the default ``~/.dinoair``), the targets, the manifests and the
  ComfyUI mirror live, and the working directory of every command,
* the machine's real host name (it cannot be changed without privileges),
* secrets in the environment (``HF_TOKEN``, ``GITHUB_TOKEN``, ``AWS_SECRET_ACCESS_KEY``,
  ``OPENAI_API_KEY``) and in the manifest's URLs (``http://mark:pass@...``, ``?token=...``),
* ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` naming the host, the user and an e-mail,
* the installer's own checkout and virtual environment, which every traceback frame names,
* failing steps whose error messages carry the path, the names, an e-mail address and tokens,
  and a failing custom step whose traceback shows a source line assigning a key
  (``os.environ["CIVITAI_API_KEY"] = "..."``) and whose message carries a failing subprocess's
  output with a ``curl -u user:password`` command line in it.

Every error category is forced once (installation, network, system, configuration, cancelled,
unexpected twice: in a step and outside any step), plus one full successful run with every step.
Then every byte of every file under the telemetry home, of both export formats and of the
crash reports is scanned for every seeded value, in every spelling it could take (raw UTF-8,
JSON ``\\u`` escapes, git's octal quoting, URL percent-encoding, decomposed Unicode).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fixtures.commands import install_command
from fixtures.demo_fixture import Fixture
from fixtures.model_server import Fault, ModelServer
from tests.conftest import has_part_file
from tests.reliability.conftest import (
    FAST,
    assert_clean_exit,
    environment,
    install,
    install_crashing,
    manifest_data,
    telemetry,
    write_manifest_file,
)

CHECKOUT = Path(__file__).resolve().parents[2]  # where installer/ lives
USER = "mark"
HOST = socket.gethostname()
PERSON = "Zoë Ångström home"
EMAIL = "zoe.angstrom@example.org"
HF_TOKEN = "hf_Qx7vT2mPz9LkR4sW8nB3cY6dF1gH5jK0aE"
GITHUB_TOKEN = "ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q"
AWS_SECRET = "wJalrXUtnFEMI7K7MDENGbPxRfiCYzEXAMPLEKEY"
OPENAI_KEY = "sk-proj-7Hn2Kd9Lq4Wx8Rt6Yp3Zs5Vb1Nm0Jc"
URL_PASSWORD = "s3cr3tpass-Zq9w"
QUERY_TOKEN = "qtok-5f4e3d2c1b0a9988"
SIGNATURE = "sigZ7y6x5w4v3u2t1s0r"
CIVITAI_KEY = "c1v1t4iK3yQ9wX7vB5nM3"
CURL_PASSWORD = "cUrLpw-8Hq2Lm5Rt"

# A custom step that fails the way a downloader script does: a subprocess (curl) fails with its
# command line in its output, and the source line of the frame that fails assigns a secret.
CUSTOM_STEP = f"""import os, subprocess, sys

CURL = "+ curl -sS -u {USER}:{CURL_PASSWORD} https://civitai.example/api/download/models/4201"


def run(ctx):
    attempt = 1
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.argv[1]); "
         "print('curl: (22) The requested URL returned error: 401'); sys.exit(22)", CURL],
        capture_output=True, text=True,
    )
    try:
        os.environ["CIVITAI_API_KEY"] = "{CIVITAI_KEY}" + attempt
    except TypeError as exc:
        raise RuntimeError(f"download failed ({{proc.returncode}}): {{proc.stdout}}") from exc
"""
CUSTOM_INSTALL = """
import dataclasses, sys
from installer import cli
sys.path.insert(0, sys.argv[1])
import civitai_node

cli.STEPS = tuple(dataclasses.replace(s, run=civitai_node.run) if s.name == "workflows" else s
                  for s in cli.STEPS)
cli.main(sys.argv[2:], prog_name="dinoair-install")
"""


@dataclass
class Seeded:
    home: Path  # the person's home folder
    telemetry_home: Path
    env: dict[str, str]
    values: dict[str, list[re.Pattern[bytes]]]
    results: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    exports: dict[str, bytes] = field(default_factory=dict)


# -- what to look for ----------------------------------------------------------------------------


def _spellings(text: str) -> set[str]:
    """``text`` as it may appear in a file: raw, NFD, JSON-escaped, URL-encoded, git-quoted."""
    forms = {text, unicodedata.normalize("NFD", text), unicodedata.normalize("NFC", text)}
    for form in list(forms):
        forms.add(json.dumps(form)[1:-1])  # \u00eb
        forms.add(urllib.parse.quote(form))  # %C3%AB
        forms.add(urllib.parse.quote_plus(form))
        forms.add(
            "".join(c if ord(c) < 128 else "".join(f"\\{b:03o}" for b in c.encode()) for c in form)
        )  # git's core.quotePath: \303\253
        forms.add(form.replace("/", "\\"))
        forms.add(form.replace("/", "\\\\"))
    return {f for f in forms if f}


def _literal(text: str) -> list[re.Pattern[bytes]]:
    return [re.compile(re.escape(form.encode()), re.I) for form in sorted(_spellings(text))]


def _word(text: str) -> list[re.Pattern[bytes]]:
    """Case-insensitive, bounded by non-alphanumerics (so ``marker`` is not ``mark``)."""
    return [
        re.compile(rb"(?<![A-Za-z0-9])" + re.escape(form.encode()) + rb"(?![A-Za-z0-9])", re.I)
        for form in sorted(_spellings(text))
    ]


def seeded_values(home: Path) -> dict[str, list[re.Pattern[bytes]]]:
    values = {
        f"user name {USER!r} (as a word)": _word(USER),
        f"host name {HOST!r} (as a word)": _word(HOST),
        "home path": _literal(str(home)),
        f"home folder name {PERSON!r}": _literal(PERSON),
        "'Zoë'": _literal("Zoë"),
        "'Ångström'": _literal("Ångström"),
        "e-mail address": _literal(EMAIL),
        "URL password": _literal(URL_PASSWORD),
        "URL user:password": _literal(f"{USER}:{URL_PASSWORD}"),
        "URL query token": _literal(QUERY_TOKEN),
        "URL signature": _literal(SIGNATURE),
        "CIVITAI_API_KEY in a traceback's source line": _literal(CIVITAI_KEY),
        "curl -u password in a subprocess's output": _literal(CURL_PASSWORD),
        # where the installer's own code and environment live (a traceback shows both)
        "venv location": _literal(sys.prefix),
        "checkout location": _literal(str(CHECKOUT)),
    }
    for name, secret in (
        ("HF_TOKEN", HF_TOKEN),
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("OPENAI_API_KEY", OPENAI_KEY),
    ):
        values[f"{name} value"] = _literal(secret)
        body = secret.split("_", 1)[-1] if secret.startswith(("hf_", "ghp_")) else secret[3:]
        values[f"{name} body (partial redaction)"] = _literal(body[:16])
    return values


def scan(blob: bytes, values: dict[str, list[re.Pattern[bytes]]]) -> dict[str, list[str]]:
    """Which seeded values occur in ``blob``, with a little context for each hit."""
    found: dict[str, list[str]] = {}
    for name, patterns in values.items():
        for pattern in patterns:
            for match in pattern.finditer(blob):
                start, end = max(0, match.start() - 60), match.end() + 60
                found.setdefault(name, []).append(blob[start:end].decode("utf-8", errors="replace"))
    return found


# -- the seeded world and its runs ---------------------------------------------------------------


def _wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def seeded(demo: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("privacy")
    home = root / PERSON
    home.mkdir()
    env = environment(
        {
            "HOME": str(home),
            "USER": USER,
            "LOGNAME": USER,
            "USERNAME": USER,
            "LNAME": USER,
            "DINOAIR_HOME": None,
            "HF_TOKEN": HF_TOKEN,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "OPENAI_API_KEY": OPENAI_KEY,
            "EMAIL": EMAIL,
            "HOSTNAME": HOST,
            "PWD": str(home),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            # OpenTelemetry's own ways to add identity to a resource (the allow-list must win).
            "OTEL_RESOURCE_ATTRIBUTES": f"host.name={HOST},process.owner={USER},user.email={EMAIL}",
            "OTEL_SERVICE_NAME": f"{USER}-laptop",
        }
    )
    seeded = Seeded(home, home / ".dinoair", env, seeded_values(home))
    mirror = home / "src" / "ComfyUI mirror"
    shutil.copytree(demo.repo, mirror)
    manifests = home / "my manifests"
    manifests.mkdir()

    def run(
        name: str,
        *args: str,
        manifest: Path,
        codes: tuple[int, ...] = (1,),
        fast: bool = True,
        target: Path | None = None,
    ) -> None:
        target = target or home / "installs" / name
        result = install(target, manifest, *args, env=env, fast=fast, cwd=home, timeout=300)
        assert_clean_exit(result, *codes)
        seeded.results[name] = result

    def manifest(srv: ModelServer, name: str) -> Path:
        data = manifest_data(demo, srv.base_url)
        data["comfyui"]["repo"] = str(mirror)
        for checkpoint in data["checkpoints"]:
            checkpoint["url"] += f"?token={QUERY_TOKEN}&X-Amz-Signature={SIGNATURE}"
        return write_manifest_file(manifests / name, data)

    assert_clean_exit(telemetry("enable", "--yes", env=env, cwd=home), 0)
    assert seeded.telemetry_home.is_dir(), "the default home ~/.dinoair under HOME"
    with ModelServer(demo.models_dir) as clean, ModelServer(demo.models_dir) as srv:
        # A full successful run, every step (a venv, pip), to the default target ~/DinoAir:
        # it runs in the background, against its own server, while the failures are forced.
        full = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "installer",
                "--manifest",
                str(manifest(clean, "full manifest.json")),
                "--yes",
            ],
            cwd=home,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        good = manifest(srv, "manifest.json")

        # installation: the server sends other bytes (checksum mismatch).
        big = max(demo.models, key=lambda m: m.size)
        srv.set_fault(big.name, Fault.different(b"\x00" * big.size, times=None))
        run("installation-checksum", manifest=good)
        srv.clear_faults()

        # installation: a ref carrying a token does not exist in the mirror under the home.
        data = json.loads(good.read_text())
        data["comfyui"]["ref"] = f"release-{HF_TOKEN}-for-{USER}"
        run("installation-clone", manifest=write_manifest_file(manifests / "bad ref.json", data))

        # network: credentials in the URL (urllib cannot even resolve such a host).
        data = json.loads(good.read_text())
        data["checkpoints"][0]["url"] = (
            f"http://{USER}:{URL_PASSWORD}@127.0.0.1:9/{HOST}/model?token={QUERY_TOKEN}"
        )
        run("network-credentials", manifest=write_manifest_file(manifests / "creds.json", data))

        # network: HTTP 503 from a URL with a token in its query.
        srv.set_fault(big.name, Fault.http(503, times=None))
        run("network-503", manifest=good)
        srv.clear_faults()

        # system: the target is below a regular file (the OSError names the full path).
        blocker = home / "blocker file"
        blocker.write_text("not a folder")
        run("system", manifest=good, target=blocker / "DinoAir")

        # configuration: the manifest is a link to itself (the OSError carries the full path)
        loop = manifests / "looping manifest.json"
        loop.symlink_to(loop)
        run("configuration-loop", manifest=loop)
        # ... and a checkpoint name that is a secret.
        data = json.loads(good.read_text())
        data["checkpoints"][0]["name"] = f"{GITHUB_TOKEN}/../{USER}"
        run("configuration-name", manifest=write_manifest_file(manifests / "name.json", data))

        # cancelled: Ctrl-C while the downloads stall.
        for model in demo.models:
            srv.set_fault(model.name, Fault.stall(after=1024, seconds=60, times=None))
        target = home / "installs" / "cancelled"
        proc = subprocess.Popen(
            install_command(target, good, *FAST),
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(lambda: has_part_file(target))
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert_clean_exit(result, 130)
        seeded.results["cancelled"] = result
        srv.clear_faults()

        # unexpected: a bug in a step, and one outside any step, both with everything in them.
        target = home / "installs" / "unexpected"
        message = "\n".join(
            [
                f"cannot write {target}/ComfyUI/x.json for {USER} on host {HOST} ({EMAIL})",
                f"HF_TOKEN={HF_TOKEN} OPENAI_API_KEY={OPENAI_KEY}",
                f"fetching http://{USER}:{URL_PASSWORD}@{HOST}:8080/m?token={QUERY_TOKEN} failed",
                f"aws_secret_access_key = {AWS_SECRET}",
                f"Authorization: Bearer {GITHUB_TOKEN}",
            ]
        )
        result = install_crashing(target, good, message, env=env, cwd=home)
        assert_clean_exit(result, 1)
        seeded.results["unexpected-step"] = result
        environ = {
            k: env[k]
            for k in (
                "HOME",
                "USER",
                "HF_TOKEN",
                "GITHUB_TOKEN",
                "AWS_SECRET_ACCESS_KEY",
                "OPENAI_API_KEY",
                "EMAIL",
            )
        }
        result = install_crashing(
            home / "installs" / "outside",
            good,
            f"bad environment {environ!r} in {home}",
            where="outside",
            env=env,
            cwd=home,
        )
        assert_clean_exit(result, 1)
        seeded.results["unexpected-outside"] = result

        # unexpected: a custom step, a file under the home, fails with a secret in the source
        # line of its traceback and a curl -u command line in a subprocess's output.
        nodes = home / "custom nodes"
        nodes.mkdir()
        (nodes / "civitai_node.py").write_text(CUSTOM_STEP, encoding="utf-8")
        cmd = [sys.executable, "-c", CUSTOM_INSTALL, str(nodes), "--target"]
        cmd += [str(home / "installs" / "custom"), "--manifest", str(good), "--yes", *FAST]
        result = subprocess.run(
            cmd, cwd=home, env=env, text=True, capture_output=True, timeout=120, check=False
        )
        assert_clean_exit(result, 1)
        seeded.results["unexpected-custom-step"] = result

        out, err = full.communicate(timeout=300)
        result = subprocess.CompletedProcess(full.args, full.returncode, out, err)
        assert_clean_exit(result, 0)
        assert (home / "DinoAir" / "install_summary.json").exists()
        seeded.results["success"] = result

    # Both export formats, to files under the home and to standard output.
    exports = home / "exports"
    exports.mkdir()
    for name, args in (
        ("json bundle", ["export", str(exports / "bundle.json")]),
        ("otlp lines", ["export", str(exports / "otlp.jsonl"), "--format", "otlp"]),
        ("json to stdout", ["export", "-"]),
        ("otlp to stdout", ["export", "-", "--format", "otlp"]),
    ):
        result = telemetry(*args, env=env, cwd=home)
        assert_clean_exit(result, 0)
        seeded.exports[name] = (
            result.stdout.encode() if "stdout" in name else Path(args[1]).read_bytes()
        )
    yield seeded


# -- the tests -----------------------------------------------------------------------------------


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _sessions(seeded: Seeded) -> list[dict]:
    return [
        json.loads(p.read_bytes())
        for p in sorted((seeded.telemetry_home / "telemetry").glob("session_*.json"))
    ]


def test_every_error_category_was_forced(trial, seeded: Seeded) -> None:
    with trial.attempt(
        "privacy: every error category forced in the seeded runs",
        how="12 installer runs: success (all steps), installation x2, network x2,"
        " system, configuration x2, cancelled, unexpected x3",
    ):
        docs = _sessions(seeded)
        categories = {
            e["error_category"] for d in docs for e in d["events"] if e["event_type"] == "error"
        }
        assert categories == {
            "installation",
            "network",
            "system",
            "configuration",
            "cancelled",
            "unexpected",
        }, categories
        assert any(d["events"][-1].get("success") is True for d in docs)
        crashes = list((seeded.telemetry_home / "crashes").glob("crash_*.json"))
        assert len(crashes) == 3
        # The seeded values did reach the sanitizer: it replaced every kind of them.
        text = "\n".join(p.read_text(encoding="utf-8") for p in _all_files(seeded.telemetry_home))
        for placeholder in ("<PATH>", "<USER>", "<HOST>", "<EMAIL>", "<URL>", "<SECRET>"):
            assert placeholder in text, f"{placeholder} never used: the seed did not reach it"


def _scan_files(trial, case: str, how: str, files: list[Path], seeded: Seeded) -> None:
    leaks: dict[str, dict[str, list[str]]] = {}
    total = 0
    for path in files:
        blob = path.read_bytes()
        total += len(blob)
        hits = scan(blob, seeded.values)
        if hits:
            leaks[str(path.relative_to(seeded.home))] = hits
    trial.record(
        case,
        tried=len(seeded.values),
        held=len(seeded.values) - len({name for hits in leaks.values() for name in hits}),
        how=how,
    )
    trial.note(case, f"{len(files)} files, {total:,} bytes")
    assert files and total
    assert not leaks, json.dumps(leaks, indent=1, ensure_ascii=False)


def test_nothing_seeded_under_the_telemetry_home(trial, seeded: Seeded) -> None:
    files = _all_files(seeded.telemetry_home)
    _scan_files(
        trial,
        "privacy: every byte under the telemetry home",
        f"{len(seeded.values)} seeded values (tried = values), each in every spelling",
        files,
        seeded,
    )


def test_nothing_seeded_in_the_crash_reports(trial, seeded: Seeded) -> None:
    files = _all_files(seeded.telemetry_home / "crashes")
    assert len(files) == 3
    # the custom step's shapes reached the sanitizer and lost only their secrets
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert 'os.environ[\\"CIVITAI_API_KEY\\"] = \\"<SECRET>\\"' in text, text
    assert "curl -sS -u <SECRET>" in text, text
    _scan_files(
        trial,
        "privacy: every byte of the crash reports",
        "crashes in a step, outside any step and in a custom step, all full of seeds",
        files,
        seeded,
    )


@pytest.mark.parametrize("name", ["json bundle", "otlp lines", "json to stdout", "otlp to stdout"])
def test_nothing_seeded_in_the_exports(trial, seeded: Seeded, name: str) -> None:
    case = "privacy: every export format"
    blob = seeded.exports[name]
    assert blob.strip()
    hits = scan(blob, seeded.values)
    trial.record(
        case,
        tried=len(seeded.values),
        held=len(seeded.values) - len(hits),
        how="dinoair-telemetry export (json) and --format otlp, to a file and to "
        "stdout; tried = seeded values x 4 outputs",
    )
    trial.note(case, f"{name}: {len(blob):,} bytes")
    assert not hits, json.dumps(hits, indent=1, ensure_ascii=False)
    if name.startswith("json"):
        bundle = json.loads(blob)
        assert len(bundle["sessions"]) >= 10 and len(bundle["crash_reports"]) == 3
    else:
        assert len(blob.splitlines()) >= 10


def test_the_installer_output_kept_its_paths(seeded: Seeded) -> None:
    """A sanity check of the seed: the person's own terminal does show their own paths."""
    assert PERSON in seeded.results["success"].stdout


def test_the_scanner_finds_every_seeded_value(trial, seeded: Seeded) -> None:
    """A positive control: a deliberately leaky blob is caught for every seeded value."""
    home = str(seeded.home)
    leaky = {
        f"user name {USER!r} (as a word)": f"by {USER.upper()}.",
        f"host name {HOST!r} (as a word)": f"on '{HOST}'",
        "home path": json.dumps(f"{home}/x", ensure_ascii=True),
        f"home folder name {PERSON!r}": urllib.parse.quote(PERSON),
        "'Zoë'": unicodedata.normalize("NFD", "Zoë"),
        "'Ångström'": "".join(f"\\{b:03o}" for b in "Å".encode())
        + "ngstr"
        + "".join(f"\\{b:03o}" for b in "ö".encode())
        + "m",
        "e-mail address": EMAIL.upper(),
        "URL password": URL_PASSWORD,
        "URL user:password": f"{USER}:{URL_PASSWORD}@",
        "URL query token": QUERY_TOKEN,
        "URL signature": SIGNATURE,
        "CIVITAI_API_KEY in a traceback's source line": f'os.environ["X"] = "{CIVITAI_KEY}"',
        "curl -u password in a subprocess's output": f"curl -u {USER}:{CURL_PASSWORD} x",
        "venv location": f'File "{sys.prefix}/lib/x.py"',
        "checkout location": json.dumps(f"{CHECKOUT}/installer/runner.py"),
    }
    with trial.attempt(
        "privacy: the scanner catches every seeded value (positive control)",
        how="one deliberately leaky blob, each value in an escaped spelling",
    ):
        for name in seeded.values:
            sample = leaky.get(name)
            if sample is None:  # the secrets: raw, then JSON-escaped inside a string
                secret = {
                    "HF_TOKEN": HF_TOKEN,
                    "GITHUB_TOKEN": GITHUB_TOKEN,
                    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
                    "OPENAI_API_KEY": OPENAI_KEY,
                }[name.split()[0]]
                sample = json.dumps({"v": secret})
            assert name in scan(sample.encode(), seeded.values), name
        user = {"u": seeded.values[f"user name {USER!r} (as a word)"]}
        assert not scan(b"marker bookmark remarks markdown", user), "bounded by letters"
        assert scan(b"Mark-up", user) and scan(b"/MARK/", user), "but not by punctuation"


def test_report_issue_is_clean_for_every_error_category(trial, seeded: Seeded) -> None:
    """``report-issue`` on each seeded session: the file and the ``--open`` link hold no seed,
    name the failed step, and the link parses back to the same title and a prefix of the body."""
    from tests.test_report_issue import fake_browser, opened_url, title_and_body

    case = "privacy: report-issue for every error category"
    drafts = seeded.home / "drafts"
    drafts.mkdir()
    categories = set()
    docs = _sessions(seeded)
    for doc in docs:
        session = doc["session_id"]
        errors = [e for e in doc["events"] if e["event_type"] == "error"]
        if not errors:
            continue
        failed = next((e for e in errors if e.get("step_name")), errors[0])
        step = failed.get("step_name") or "install"
        categories.add(failed["error_category"])
        bin_dir, capture = fake_browser(drafts / f"bin-{session}")
        full = drafts / f"{session}.md"
        env = {
            **seeded.env,
            "PATH": f"{bin_dir}{os.pathsep}{seeded.env['PATH']}",
            "BROWSER": str(bin_dir / "xdg-open"),
            "DINOAIR_ISSUE_TRACKER": "https://example.org/dino/air",
            "DINOAIR_HOME": str(seeded.telemetry_home),  # the default ~/.dinoair, said outright
        }
        result = telemetry(
            "report-issue", session, "-o", str(full), "--open", env=env, cwd=seeded.home
        )
        assert_clean_exit(result, 0)
        url = opened_url(capture)
        title, body = title_and_body(url)
        report = full.read_text(encoding="utf-8")
        hits = scan(report.encode() + url.encode() + body.encode(), seeded.values)
        trial.record(
            case,
            tried=len(seeded.values),
            held=len(seeded.values) - len(hits),
            how="report-issue -o FILE --open on each failed seeded session; the file, "
            "the URL and its decoded body scanned; tried = seeded values x sessions",
        )
        assert not hits, json.dumps(hits, indent=1, ensure_ascii=False)
        assert title.startswith(f"{step}: {failed['error_category']}"), (title, step)
        assert report.splitlines()[0] == f"# {title}"
        assert f"`{step}`" in report or step == "install", step
        full_body = report.split("\n\n", 1)[1]
        kept = body.split("\n\n> The report was cut here")[0]
        assert full_body.startswith(kept) and len(kept) > 100
    assert categories == {
        "installation",
        "network",
        "system",
        "configuration",
        "cancelled",
        "unexpected",
    }, categories
    # Every failure that looks like a bug ends with the hint, a crash outside any step (the
    # top-level handler) too; the user's own input (configuration) gets a fix hint instead.
    failed_runs = {
        name: r for name, r in seeded.results.items() if name not in ("success", "cancelled")
    }
    assert "unexpected-outside" in seeded.results
    for name, result in failed_runs.items():
        hints = [line for line in result.stderr.splitlines() if "Draft a bug report: " in line]
        if name.startswith("configuration"):
            assert "report-issue" not in result.stderr and "Try: " in result.stderr, name
        else:
            assert len(hints) == 1, result.stderr
            assert re.search(r"(dinoair-telemetry|-m telemetry_cli) report-issue", hints[0]), hints


def test_a_failing_installs_traceback_keeps_the_installers_own_frames(
    trial, seeded: Seeded
) -> None:
    """Issue 22: a maintainer reads ``installer/runner.py``, nobody reads whose folder it was."""
    with trial.attempt(
        "privacy: tracebacks keep package-relative frames",
        how="the stack traces of the unexpected failures in the sessions and crash reports",
    ):
        stacks = [
            e.get("attributes", {}).get("exception.stacktrace", "")
            for d in _sessions(seeded)
            for span in d.get("spans", [])
            for e in span.get("events", [])
        ]
        for path in (seeded.telemetry_home / "crashes").glob("crash_*.json"):
            stacks.append(json.dumps(json.loads(path.read_bytes())))
        text = "\n".join(s for s in stacks if s)
        assert re.search(r'File \\?"<PATH>/installer/runner\.py\\?", line [0-9]+', text), text[
            :2000
        ]
        assert not re.search(r'File \\?"/', text), "a frame kept an absolute path"


def test_selftest_passes_in_the_seeded_environment(trial, seeded: Seeded) -> None:
    """``dinoair-telemetry selftest`` as the person runs it: their name, home, host and env."""
    with trial.attempt(
        "privacy: dinoair-telemetry selftest",
        how="the command in the seeded environment (login name, home, host, tokens in env)",
    ):
        result = subprocess.run(
            [sys.executable, "-m", "telemetry_cli", "selftest"],
            env=seeded.env,
            cwd=seeded.home,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Self-test passed: none of" in result.stdout
