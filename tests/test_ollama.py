"""ollama_models: Ollama installed from the manifest's archive, served privately, pulled via HTTP.

Real parts throughout: the archive is a real .tgz (fixtures/demo_fixture.build_ollama_archive)
served by the loopback ModelServer and fetched by the installer's downloader; its ``bin/ollama``
is the Ollama stand-in, a real HTTP server answering /api/version, /api/tags and /api/pull with
streamed progress. ``OLLAMA_HOST`` points at a closed port so no Ollama on this machine is used.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import psutil
import pytest

from fixtures.demo_fixture import build_ollama_archive, ollama_section
from fixtures.model_server import ModelServer
from installer import ollama
from installer.context import StepSkipped
from installer.errors import INSTALLATION, NETWORK, InstallError
from installer.steps import ollama_models
from tests.stack_target import free_port, http_get, install_standin_ollama, wait_for
from tests.test_steps_extra import event, make_ctx, write_manifest


@pytest.fixture(autouse=True)
def no_system_ollama(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.delenv("DINOAIR_STANDIN_MUTE", raising=False)


@pytest.fixture
def release(tmp_path: Path) -> Any:
    archive = build_ollama_archive(tmp_path / "release")
    with ModelServer({archive.name: archive.read_bytes()}) as server:
        yield archive, server


def ctx_with(tmp_path: Path, section: dict[str, Any], models: list[str], **options: Any) -> Any:
    manifest = write_manifest(tmp_path / "m", ollama_models=models, ollama=section)
    return make_ctx(tmp_path, manifest, tools={"ollama": None}, **options)


def children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.status() != "zombie"]


def test_installs_ollama_from_the_archive_pulls_then_stops_it(tmp_path: Path, release: Any) -> None:
    archive, server = release
    section = ollama_section(archive, server.url(archive.name))
    ctx, events = ctx_with(tmp_path, section, ["llama3.2", "qwen2.5:0.5b"])
    assert "after installing Ollama into ollama/" in ollama_models.describe(ctx)
    ollama_models.run(ctx)

    binary = ctx.target / "ollama" / "bin" / "ollama"
    assert ollama.installed_binary(ctx.target) == binary
    assert not (ctx.target / "ollama" / archive.name).exists()  # unpacked, then removed
    assert server.bytes_sent(archive.name) == archive.stat().st_size
    assert ctx.outcomes["ollama"] == {"status": "installed", "source": "archive"}
    assert event(events, "component") == {
        "component": "ollama",
        "status": "installed",
        "source": "archive",
    }
    assert [r["status"] for r in ctx.outcomes["ollama_models"]] == ["pulled", "pulled"]
    pulled = [a for n, a in events if n == "model_pulled"]
    assert all(a["bytes"] == 4 * 1024 * 1024 for a in pulled)  # the stand-in's layer, in bytes
    assert ctx.bytes_downloaded == archive.stat().st_size + 2 * 4 * 1024 * 1024
    assert '"status": "success"' in (ctx.logs_dir / "ollama-pull.log").read_text()
    # The models went into the install's own model folder, and the server is gone.
    assert (ctx.target / "ollama" / "models" / "standin.json").is_file()
    assert not children()

    # A re-run: Ollama is there (no download), the models are there (no pull).
    events.clear()
    server.clear_log()
    ollama_models.run(ctx)
    assert server.requests == []
    assert ctx.outcomes["ollama"] == {"status": "present", "source": "install_folder"}
    assert [r["status"] for r in ctx.outcomes["ollama_models"]] == ["present", "present"]
    assert not children()


def test_a_running_ollama_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    standin = install_standin_ollama(tmp_path / "system")
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(tmp_path / "system-models"),
    }
    system = subprocess.Popen([str(standin), "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/api/version"))
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
        ctx, _ = ctx_with(tmp_path, {"archives": []}, ["llama3.2"])
        ollama_models.run(ctx)
        assert ctx.outcomes["ollama"] == {"status": "present", "source": "running"}
        assert (tmp_path / "system-models" / "standin.json").is_file()  # its own folder
        assert not (ctx.target / "ollama").exists()
        assert system.poll() is None  # left running
    finally:
        system.terminate()
        system.wait()


def test_no_ollama_and_no_archive_for_this_machine_skips_with_what_to_do(tmp_path: Path) -> None:
    ctx, events = ctx_with(tmp_path, {"archives": []}, ["llama3.2"])
    assert ollama_models.describe(ctx).startswith("skip: no Ollama here")
    with pytest.raises(StepSkipped) as skipped:
        ollama_models.run(ctx)
    assert skipped.value.reason == "ollama_not_found"
    assert "install Ollama (from ollama.com), then re-run to pull llama3.2" in skipped.value.detail
    assert event(events, "component")["status"] == "skipped"


def test_skip_if() -> None:
    class Opts:
        no_models = True

    class Ctx:
        options = Opts()

    assert ollama_models.skip_if(Ctx()) == "no_models_flag"  # type: ignore[arg-type]


def test_archive_hash_mismatch_installs_nothing(tmp_path: Path, release: Any) -> None:
    archive, server = release
    section = ollama_section(archive, server.url(archive.name))
    section["archives"][0]["sha256"] = "0" * 64  # type: ignore[index]
    ctx, _ = ctx_with(tmp_path, section, ["llama3.2"], retries=0)
    with pytest.raises(InstallError) as raised:
        ollama_models.run(ctx)
    assert raised.value.category == INSTALLATION
    assert "sha256" in str(raised.value).lower() or "checksum" in str(raised.value).lower()
    assert ollama.installed_binary(ctx.target) is None


def test_an_ollama_that_never_answers_is_stopped_and_named(
    tmp_path: Path, release: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, server = release
    monkeypatch.setenv("DINOAIR_STANDIN_MUTE", "1")
    ctx, _ = ctx_with(tmp_path, ollama_section(archive, server.url(archive.name)), ["x"], timeout=2)
    with pytest.raises(InstallError) as raised:
        ollama_models.run(ctx)
    assert "Ollama did not answer on http://127.0.0.1:" in str(raised.value)
    assert "within 2 s" in str(raised.value)
    assert "logs/ollama-serve.log" in raised.value.hint
    assert not children()


def test_a_failed_pull_says_ollamas_reason(tmp_path: Path, release: Any) -> None:
    archive, server = release
    ctx, _ = ctx_with(
        tmp_path, ollama_section(archive, server.url(archive.name)), ["missing-model"]
    )
    with pytest.raises(InstallError) as raised:
        ollama_models.run(ctx)
    assert str(raised.value) == (
        "Ollama could not pull missing-model: pull model manifest: file does not exist"
    )
    assert raised.value.category == INSTALLATION
    assert not children()


def test_unpack_refuses_paths_outside_its_folder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 1
        tar.addfile(info, BytesIO(b"x"))
    with pytest.raises(InstallError) as raised:
        ollama.unpack(bad, tmp_path / "dest")
    assert "outside its folder" in str(raised.value)
    assert not (tmp_path / "escaped").exists()


def test_model_names_normalize() -> None:
    assert ollama.normalize("Llama3.2") == "llama3.2:latest"
    assert ollama.normalize("library/qwen2.5:0.5b") == "qwen2.5:0.5b"
    assert ollama.normalize("hf.co/org/m:Q4_K_M") == "hf.co/org/m:q4_k_m"


def test_network_category_is_used_for_a_broken_stream() -> None:
    with pytest.raises(InstallError) as raised:
        ollama.pull(
            f"http://127.0.0.1:{free_port()}",
            "m",
            timeout=2,
            on_progress=lambda c, t: None,
            log=lambda line: None,
        )
    assert raised.value.category == NETWORK
