"""The later installation steps, run for real on temporary folders.

workflows, webgui and finalize work on real files; webgui runs the machine's real npm for a GUI
with a local dependency (the registry is pointed at a closed port to prove it needs no network);
models downloads from the real loopback ``ModelServer`` (ollama_models: tests/test_ollama.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import installer
from fixtures.model_server import ModelServer
from installer.context import InstallContext, Options, StepSkipped
from installer.errors import INSTALLATION, InstallError, categorize
from installer.hardware import Hardware
from installer.manifest import load_manifest
from installer.steps import STEPS, finalize, models, ollama_models, webgui, workflows

DATA = Path(installer.__file__).parent / "data"
Events = list[tuple[str, dict[str, Any]]]

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


# -- helpers ---------------------------------------------------------------------------------


def write_manifest(folder: Path, **overrides: Any) -> Path:
    """A valid manifest in ``folder``; by default it uses the bundled workflows and web GUI."""
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "comfyui": {"repo": "comfy-src", "ref": "main"},  # a local folder path is accepted
        "ollama_models": ["llama3.2"],
        "checkpoints": [],
        "webgui": str(DATA / "webgui"),
        "workflows": str(DATA / "workflows"),
    }
    data.update(overrides)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def make_ctx(
    tmp_path: Path,
    manifest: Path | None = None,
    *,
    comfyui: bool = True,
    tools: dict[str, str | None] | None = None,
    **options: Any,
) -> tuple[InstallContext, Events]:
    """A context on ``tmp_path/t`` as the runner builds it, with events captured."""
    events: Events = []
    target = tmp_path / "t"
    ctx = InstallContext(
        options=Options(target=target, **options),
        manifest=load_manifest(manifest or write_manifest(tmp_path / "m")),
        echo=lambda line: None,
        tools=dict(tools or {}),
        _sink=lambda name, attrs: events.append((name, attrs)),
    )
    if comfyui:
        ctx.comfyui_dir.mkdir(parents=True)  # what the comfyui step leaves behind
    return ctx, events


def names(events: Events) -> list[str]:
    return [name for name, _ in events]


def event(events: Events, name: str) -> dict[str, Any]:
    found = [attrs for n, attrs in events if n == name]
    assert len(found) == 1, f"expected one {name!r} event in {names(events)}"
    return found[0]


def assert_plain_attributes(events: Events, tmp_path: Path) -> None:
    """Event attributes are str/int/float/bool and carry no URL or path."""
    for name, attrs in events:
        for key, value in attrs.items():
            assert isinstance(value, (str, int, float, bool)), (name, key, value)
            if isinstance(value, str):
                assert "://" not in value and str(tmp_path) not in value, (name, key, value)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {check}")


def http_get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- describe ------------------------------------------------------------------------------------


def test_describe_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    ctx, events = make_ctx(tmp_path, comfyui=False)
    ours = [
        s for s in STEPS if s.name in ("workflows", "ollama_models", "models", "webgui", "finalize")
    ]
    assert [s.name for s in ours] == ["workflows", "ollama_models", "models", "webgui", "finalize"]
    for step in ours:
        line = step.describe(ctx)
        assert line and "\n" not in line
    assert not ctx.target.exists()
    assert events == []


# -- workflows -----------------------------------------------------------------------------------


def test_bundled_workflows_are_sdxl_graphs() -> None:
    """Each bundled file is a consistent ComfyUI graph that loads the SDXL base and its VAE."""
    files = sorted((DATA / "workflows").glob("*.json"))
    assert len(files) >= 2
    for path in files:
        graph = json.loads(path.read_text())
        if "nodes" in graph:  # UI format: nodes plus links [id, from, slot, to, slot, type]
            nodes = {n["id"]: n for n in graph["nodes"]}
            for link_id, src, src_slot, dst, dst_slot, kind in graph["links"]:
                assert link_id in nodes[src]["outputs"][src_slot]["links"]
                assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
                assert nodes[src]["outputs"][src_slot]["type"] == kind
            widgets = {n["type"]: n["widgets_values"] for n in graph["nodes"]}
            assert widgets["CheckpointLoaderSimple"] == ["sd_xl_base_1.0.safetensors"]
            assert widgets["VAELoader"] == ["sdxl_vae.safetensors"]
            types = set(widgets)
        else:  # API format: node id -> class_type and inputs, links as [node id, output]
            for node in graph.values():
                for value in node["inputs"].values():
                    if isinstance(value, list):
                        assert value[0] in graph and isinstance(value[1], int)
            by_type = {n["class_type"]: n["inputs"] for n in graph.values()}
            assert by_type["CheckpointLoaderSimple"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"
            assert by_type["VAELoader"]["vae_name"] == "sdxl_vae.safetensors"
            types = set(by_type)
        assert {"KSampler", "VAEDecode", "SaveImage", "EmptyLatentImage"} <= types


def test_workflows_copied_then_unchanged_on_rerun(tmp_path: Path) -> None:
    ctx, events = make_ctx(tmp_path)
    workflows.run(ctx)
    dest = ctx.comfyui_dir / "workflows"
    bundled = sorted(p.name for p in (DATA / "workflows").glob("*.json"))
    for name in bundled:
        assert (dest / name).read_bytes() == (DATA / "workflows" / name).read_bytes()
    assert event(events, "workflows_installed") == {
        "copied": len(bundled),
        "updated": 0,
        "unchanged": 0,
        "kept": 0,
    }
    assert ctx.outcomes["workflows"]["copied"] == bundled
    assert ctx.outcomes["workflows"]["folder"] == "ComfyUI/workflows"
    assert_plain_attributes(events, tmp_path)

    before = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.json")}
    events.clear()
    workflows.run(ctx)
    assert event(events, "workflows_installed")["unchanged"] == len(bundled)
    assert {p.name: p.stat().st_mtime_ns for p in dest.glob("*.json")} == before


def test_workflows_keep_user_edits_and_update_untouched_files(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(DATA / "workflows", bundle)
    manifest = write_manifest(tmp_path / "m", workflows=str(bundle))
    ctx, events = make_ctx(tmp_path, manifest)
    workflows.run(ctx)
    dest = ctx.comfyui_dir / "workflows"

    edited = dest / "sdxl_txt2img.json"
    edited.write_text('{"user": "my own version"}')
    for name in ("sdxl_txt2img.json", "sdxl_txt2img_api.json"):  # a newer installer release
        graph = json.loads((bundle / name).read_text())
        graph["extra_note"] = "release 2"
        (bundle / name).write_text(json.dumps(graph))
    events.clear()
    workflows.run(ctx)

    assert edited.read_text() == '{"user": "my own version"}'
    for kept, source in (
        ("sdxl_txt2img.json.new", "sdxl_txt2img.json"),
        ("sdxl_txt2img_api.json", "sdxl_txt2img_api.json"),
    ):
        assert (dest / kept).read_bytes() == (bundle / source).read_bytes()
    assert event(events, "workflows_installed") == {
        "copied": 0,
        "updated": 1,
        "unchanged": 0,
        "kept": 1,
    }
    assert event(events, "workflow_user_copy_kept") == {"workflow": "sdxl_txt2img.json"}


def test_workflows_bad_bundled_json_is_a_configuration_error(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "a_good.json").write_text('{"1": {"class_type": "SaveImage", "inputs": {}}}')
    (bundle / "broken.json").write_text('{"nodes": [')
    ctx, _ = make_ctx(tmp_path, write_manifest(tmp_path / "m", workflows=str(bundle)))
    with pytest.raises(InstallError) as raised:
        workflows.run(ctx)
    assert raised.value.category == "configuration"
    assert "broken.json" in str(raised.value)
    assert not (ctx.comfyui_dir / "workflows").exists()  # nothing half-installed


def test_workflows_missing_source_is_a_configuration_error(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path, write_manifest(tmp_path / "m", workflows="no-such-folder"))
    with pytest.raises(InstallError) as raised:
        workflows.run(ctx)
    assert raised.value.category == "configuration"


def test_workflows_empty_source_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    ctx, _ = make_ctx(tmp_path, write_manifest(tmp_path / "m", workflows=str(tmp_path / "empty")))
    with pytest.raises(StepSkipped) as skipped:
        workflows.run(ctx)
    assert skipped.value.reason == "no_workflows"


def test_workflows_without_comfyui_fail_without_creating_it(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path, comfyui=False)
    with pytest.raises(InstallError) as raised:
        workflows.run(ctx)
    assert raised.value.category == INSTALLATION
    assert not ctx.comfyui_dir.exists()  # a later clone into it must still work


# -- models --------------------------------------------------------------------------------------


def checkpoint(name: str, url: str, data: bytes, dest: str, sha: str | None = None) -> dict:
    import hashlib

    return {
        "name": name,
        "url": url,
        "size": len(data),
        "sha256": sha or hashlib.sha256(data).hexdigest(),
        "dest": dest,
    }


@pytest.fixture
def model_files() -> dict[str, bytes]:
    return {
        "sd_xl_base_1.0.safetensors": os.urandom(300_000),
        "sdxl_vae.safetensors": os.urandom(70_000),
    }


def test_models_download_then_verify_on_rerun(
    tmp_path: Path, model_files: dict[str, bytes]
) -> None:
    with ModelServer(model_files) as srv:
        base, vae = model_files
        manifest = write_manifest(
            tmp_path / "m",
            checkpoints=[
                checkpoint(base, srv.url(base), model_files[base], "models/checkpoints"),
                checkpoint(vae, srv.url(vae), model_files[vae], "models/vae"),
            ],
        )
        ctx, events = make_ctx(tmp_path, manifest, timeout=5.0, retries=0)
        assert models.STEP.skip_if(ctx) is None
        models.run(ctx)

        total = sum(len(d) for d in model_files.values())
        assert (ctx.models_dir / "checkpoints" / base).read_bytes() == model_files[base]
        assert (ctx.models_dir / "vae" / vae).read_bytes() == model_files[vae]
        assert ctx.bytes_downloaded == total == srv.bytes_sent()
        assert ctx.outcomes["models"] == [
            {
                "name": base,
                "status": "downloaded",
                "bytes_transferred": len(model_files[base]),
                "path": f"models/checkpoints/{base}",
            },
            {
                "name": vae,
                "status": "downloaded",
                "bytes_transferred": len(model_files[vae]),
                "path": f"models/vae/{vae}",
            },
        ]
        assert event(events, "models_ready") == {
            "files": 2,
            "bytes_transferred": total,
            "downloaded": 2,
            "verified": 0,
            "hashed": 0,
        }
        assert "download_complete" in names(events)
        assert_plain_attributes(events, tmp_path)

        srv.clear_log()
        events.clear()
        models.run(ctx)
        assert srv.requests == []  # verified from the record: no network at all
        assert [m["status"] for m in ctx.outcomes["models"]] == ["verified", "verified"]
        assert ctx.bytes_downloaded == total


def test_models_checksum_mismatch_is_an_installation_error(
    tmp_path: Path, model_files: dict[str, bytes]
) -> None:
    with ModelServer(model_files) as srv:
        base = "sd_xl_base_1.0.safetensors"
        manifest = write_manifest(
            tmp_path / "m",
            checkpoints=[
                checkpoint(
                    base, srv.url(base), model_files[base], "models/checkpoints", sha="0" * 64
                )
            ],
        )
        ctx, _ = make_ctx(tmp_path, manifest, timeout=5.0, retries=0)
        with pytest.raises(InstallError) as raised:
            models.run(ctx)
    assert categorize(raised.value) == INSTALLATION
    assert base in str(raised.value)
    assert not (ctx.models_dir / "checkpoints" / base).exists()


def test_models_skips(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path, no_models=True)
    assert models.STEP.skip_if(ctx) == "no_models_flag"
    ctx, _ = make_ctx(tmp_path / "b")  # the manifest has no checkpoints
    assert models.STEP.skip_if(ctx) == "no_checkpoints"


# -- webgui --------------------------------------------------------------------------------------


@pytest.fixture
def npm_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """npm with its registry on a closed port and a private cache: any network use would fail."""
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_update_notifier", "false")


def npm_bundle(tmp_path: Path) -> Path:
    """A manifest GUI that really needs npm: the bundle plus a local (offline) dependency."""
    bundle = tmp_path / "bundle"
    shutil.copytree(DATA / "webgui", bundle)
    (bundle / "vendor" / "local").mkdir(parents=True)
    (bundle / "vendor" / "local" / "package.json").write_text(
        json.dumps({"name": "local", "version": "1.0.0"})
    )
    package = json.loads((bundle / "package.json").read_text())
    package["dependencies"] = {"local": "file:./vendor/local"}
    (bundle / "package.json").write_text(json.dumps(package))
    (bundle / "package-lock.json").unlink()
    return bundle


@needs_npm
def test_webgui_installs_with_npm_then_skips_on_rerun(tmp_path: Path, npm_offline: None) -> None:
    bundle = npm_bundle(tmp_path)
    work = tmp_path / "prepared"
    shutil.copytree(bundle, work)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"], cwd=work, check=True, capture_output=True
    )
    shutil.copy(work / "package-lock.json", bundle / "package-lock.json")
    ctx, events = make_ctx(
        tmp_path,
        write_manifest(tmp_path / "m", webgui=str(bundle)),
        tools={"npm": shutil.which("npm")},
    )
    started = time.monotonic()
    webgui.run(ctx)
    first = time.monotonic() - started

    dest = ctx.target / "webgui"
    for name in (
        "package.json",
        "package-lock.json",
        "server.js",
        "public/index.html",
        "public/app.js",
    ):
        assert (dest / name).read_bytes() == (bundle / name).read_bytes()
    assert json.loads((dest / "config.json").read_text()) == {"model": "llama3.2"}
    assert (dest / webgui.STAMP).is_file()
    assert "npm ci --no-audit --no-fund" in (ctx.logs_dir / "npm.log").read_text()
    assert ctx.outcomes["webgui"]["npm"] == "ci"
    assert event(events, "npm_installed") == {"command": "ci"}
    assert_plain_attributes(events, tmp_path)

    # The user adds a file and edits a bundled one; node_modules must survive too.
    (dest / "notes.txt").write_text("mine")
    (dest / "node_modules").mkdir(exist_ok=True)
    (dest / "node_modules" / "kept.txt").write_text("kept")
    (dest / "server.js").write_text("// broken by hand")
    events.clear()
    started = time.monotonic()
    with pytest.raises(StepSkipped) as skipped:
        webgui.run(ctx)
    second = time.monotonic() - started
    assert skipped.value.reason == "already_installed"
    assert second < min(first, 1.0), (first, second)  # a second installer run must be fast
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "node_modules" / "kept.txt").read_text() == "kept"
    assert (dest / "server.js").read_bytes() == (bundle / "server.js").read_bytes()
    assert event(events, "webgui_copied")["written"] == 1
    assert ctx.outcomes["webgui"]["npm"] == "already_installed"


@needs_npm
def test_webgui_runs_npm_install_without_lock_and_reruns_when_package_changes(
    tmp_path: Path, npm_offline: None
) -> None:
    bundle = npm_bundle(tmp_path)
    ctx, _ = make_ctx(
        tmp_path,
        write_manifest(tmp_path / "m", webgui=str(bundle)),
        tools={"npm": shutil.which("npm")},
    )
    webgui.run(ctx)
    assert ctx.outcomes["webgui"]["npm"] == "install"
    assert (ctx.target / "webgui" / "package-lock.json").is_file()  # written by npm install
    with pytest.raises(StepSkipped):
        webgui.run(ctx)

    package = json.loads((bundle / "package.json").read_text())
    package["version"] = "0.2.0"
    (bundle / "package.json").write_text(json.dumps(package))
    webgui.run(ctx)  # a new bundle: npm runs again (ci, since a lock file is there now)
    assert ctx.outcomes["webgui"]["npm"] == "ci"


@needs_npm
def test_webgui_failing_npm_is_an_installation_error_naming_the_log(
    tmp_path: Path, npm_offline: None
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(DATA / "webgui", bundle)
    (bundle / "package-lock.json").unlink()
    package = json.loads((bundle / "package.json").read_text())
    package["dependencies"] = {"left-pad": "not a valid version ^^ !!"}
    (bundle / "package.json").write_text(json.dumps(package))
    ctx, _ = make_ctx(
        tmp_path,
        write_manifest(tmp_path / "m", webgui=str(bundle)),
        tools={"npm": shutil.which("npm")},
    )
    with pytest.raises(InstallError) as raised:
        webgui.run(ctx)
    assert raised.value.category == INSTALLATION
    assert "npm install failed" in str(raised.value)
    assert "npm.log" in raised.value.hint
    assert "EINVALIDTAGNAME" in (ctx.logs_dir / "npm.log").read_text()
    assert not (ctx.target / "webgui" / webgui.STAMP).exists()  # the next run tries again


def test_bundled_webgui_needs_no_npm(tmp_path: Path) -> None:
    """The bundled GUI declares no dependencies: it completes without npm, served by Python."""
    ctx, events = make_ctx(tmp_path, tools={"npm": None})
    webgui.run(ctx)
    assert (ctx.target / "webgui" / "server.py").is_file()
    assert ctx.outcomes["webgui"]["npm"] == "not_needed"
    assert ctx.outcomes["webgui"]["server"] == "python"
    assert "webgui_copied" in names(events)
    assert "no Node.js needed" in webgui.describe(ctx)


def test_webgui_with_npm_dependencies_and_no_npm_skips(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m", webgui=str(npm_bundle(tmp_path)))
    ctx, _ = make_ctx(tmp_path, manifest, tools={"npm": None})
    with pytest.raises(StepSkipped) as skipped:
        webgui.run(ctx)
    assert skipped.value.reason == "npm_not_found"
    assert "npm dependencies" in (skipped.value.detail or "")
    assert (ctx.target / "webgui" / "server.js").is_file()
    assert ctx.outcomes["webgui"]["npm"] == "not_run"


def test_webgui_bundle_without_package_json_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    ctx, _ = make_ctx(tmp_path, write_manifest(tmp_path / "m", webgui=str(tmp_path / "empty")))
    with pytest.raises(InstallError) as raised:
        webgui.run(ctx)
    assert raised.value.category == "configuration"


def test_webgui_package_has_no_dependencies_and_a_start_script() -> None:
    package = json.loads((DATA / "webgui" / "package.json").read_text())
    assert package["name"] == "dinoair-webgui"
    assert package["scripts"]["start"] == "node server.js"
    assert not package.get("dependencies") and not package.get("devDependencies")


@pytest.mark.parametrize(
    "server_file",
    ["server.py", pytest.param("server.js", marks=needs_node)],
)
def test_installed_webgui_serves_the_page_and_its_config(tmp_path: Path, server_file: str) -> None:
    """Python's server.py and Node's server.js answer alike (the same headers, the same 404)."""
    manifest = write_manifest(tmp_path / "m", ollama_models=["qwen2.5:0.5b"])
    ctx, _ = make_ctx(tmp_path, manifest, tools={"npm": None})
    webgui.run(ctx)
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env.pop("DINOAIR_MODEL", None)
    program = sys.executable if server_file == "server.py" else shutil.which("node")
    assert program is not None
    server = subprocess.Popen(
        [program, str(ctx.target / "webgui" / server_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        status, page = wait_for(lambda: http_get(base + "/"))
        assert status == 200 and "http://127.0.0.1:8188" in page and "app.js" in page
        _, script = http_get(base + "/app.js")
        assert "/api/chat" in script and "11434" in script
        _, config = http_get(base + "/api/config")
        assert json.loads(config)["model"] == "qwen2.5:0.5b"
        assert http_get(base + "/../server.js") is None  # 404: nothing outside public/
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0
        assert server.stdout is not None
        server.stdout.close()


# -- finalize ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accelerator", "flags"), [("cpu", ["--cpu"]), ("nvidia", []), ("apple", [])]
)
def test_finalize_writes_launch_scripts(tmp_path: Path, accelerator: str, flags: list[str]) -> None:
    """The scripts start ComfyUI with the device flags verify used (--cpu on a CPU machine)."""
    ctx, events = make_ctx(tmp_path)
    ctx.hardware = Hardware(accelerator=accelerator)
    finalize.run(ctx)
    sh = ctx.target / "start.sh"
    assert stat.S_IMODE(sh.stat().st_mode) == 0o755
    text = sh.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "\r" not in text
    assert ". venv/bin/activate" in text and 'exec python start.py "$@"' in text
    subprocess.run(["bash", "-n", str(sh)], check=True)

    launcher = (ctx.target / "start.py").read_text()
    assert f"\nCOMFYUI_FLAGS: list[str] = {flags!r}  #" in launcher
    compile(launcher, "start.py", "exec")

    bat = (ctx.target / "start.bat").read_bytes()
    assert bat.count(b"\n") == bat.count(b"\r\n") > 10  # CRLF only
    assert b'call "venv\\Scripts\\activate.bat"' in bat
    assert b"python start.py %*\r\n" in bat
    assert ctx.outcomes["finalize"]["scripts"] == ["start.sh", "start.bat", "start.py"]
    assert event(events, "summary_written")["success"] is True


def test_install_summary_has_steps_outcomes_and_no_absolute_paths(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path)
    target = ctx.target
    ctx.outcomes.update(
        {
            "steps": [
                {"name": "preflight", "status": "completed", "duration_ms": 12},
                {
                    "name": "ollama_models",
                    "status": "skipped",
                    "reason": "ollama_not_found",
                    "duration_ms": 0,
                },
            ],
            "comfyui": {"ref": "main", "commit": "abc1234", "checkout": target / "ComfyUI"},
            "python_deps": {
                "log": f"see {target / 'logs' / 'pip.log'}",
                "cache": str(Path.home() / ".cache" / "pip"),
            },
            "workflows": {"folder": "ComfyUI/workflows", "copied": ["a.json"]},
        }
    )
    before = json.loads(json.dumps(ctx.outcomes["steps"]))
    finalize.run(ctx)
    assert ctx.outcomes["steps"] == before  # the runner's list is the runner's

    raw = (target / "install_summary.json").read_text()
    summary = json.loads(raw)
    assert summary["installer_version"] == installer.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", summary["created_at"])
    assert [s["name"] for s in summary["steps"]] == ["preflight", "ollama_models", "finalize"]
    assert summary["steps"][-1]["status"] == "completed"
    assert summary["steps"][1]["reason"] == "ollama_not_found"
    assert summary["success"] is True
    assert summary["installed"]["comfyui"]["checkout"] == "ComfyUI"
    assert summary["installed"]["python_deps"]["log"] == "see logs/pip.log"
    assert summary["installed"]["python_deps"]["cache"] == "~/.cache/pip"
    assert summary["installed"]["workflows"]["copied"] == ["a.json"]
    assert summary["installed"]["finalize"]["scripts"] == ["start.sh", "start.bat", "start.py"]

    assert str(tmp_path) not in raw and str(Path.home()) not in raw

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    for text in strings(summary):
        assert not re.search(r"(^|\s)(/|[A-Za-z]:\\)", text), text


def test_relative_paths_rules(tmp_path: Path) -> None:
    root = tmp_path / "t"
    home = str(Path.home())
    assert finalize.relative_paths(
        {
            "a": root / "ComfyUI" / "x.log",
            "b": root,
            "c": f"{root}x/file",
            "d": f"{home}/.ollama/models",
            "e": "/opt/tools/npm",
            "f": "https://example.org/a",
            "g": ("pip", 3, True, None, 1.5),
        },
        root,
    ) == {
        "a": "ComfyUI/x.log",
        "b": ".",
        "c": "<outside>/file",
        "d": "~/.ollama/models",
        "e": "<outside>/npm",
        "f": "https://example.org/a",
        "g": ["pip", 3, True, None, 1.5],
    }


def test_finalize_rerun_rewrites_the_files(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path)
    finalize.run(ctx)
    (ctx.target / "start.sh").write_text("echo stale")
    finalize.run(ctx)
    assert "exec python start.py" in (ctx.target / "start.sh").read_text()
    assert stat.S_IMODE((ctx.target / "start.sh").stat().st_mode) == 0o755
    assert not [p.name for p in ctx.target.iterdir() if p.name.endswith(".tmp")]


def test_steps_modules_expose_their_step() -> None:
    for module, name in (
        (workflows, "workflows"),
        (ollama_models, "ollama_models"),
        (models, "models"),
        (webgui, "webgui"),
        (finalize, "finalize"),
    ):
        assert module.STEP.name == name
        assert module.STEP.run is module.run
