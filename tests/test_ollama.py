"""ollama_models: Ollama installed from the manifest's archive, served privately, pulled via HTTP.

Real parts throughout: the archive is a real .tgz (fixtures/demo_fixture.build_ollama_archive)
served by the loopback ModelServer and fetched by the installer's downloader; its ``bin/ollama``
is the Ollama stand-in, a real HTTP server answering /api/version, /api/tags and /api/pull with
streamed progress. ``OLLAMA_HOST`` points at a closed port so no Ollama on this machine is used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

import psutil
import pytest

from fixtures.demo_fixture import build_ollama_archive, ollama_section
from fixtures.model_server import Fault, ModelServer
from installer import ollama
from installer.context import StepSkipped
from installer.errors import INSTALLATION, NETWORK, SYSTEM, ConfigurationError, InstallError
from installer.manifest import load_manifest
from installer.steps import ollama_models
from tests.fresh_python import imported_by
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


def test_nothing_listening_on_loopback_is_no_ollama_without_loading_an_http_client() -> None:
    """Most runs have no Ollama running: the refused connection says so, and urllib's client
    (http.client, email, ssl) is never loaded for it."""
    code = (
        "from installer import ollama\n"
        f"assert ollama.version('http://127.0.0.1:{free_port()}', timeout=2) is None\n"
    )
    assert imported_by(code, ("urllib.request", "http.client", "ssl")) == []
    assert imported_by("import urllib.request", ("http.client",)) == ["http.client"]  # it sees


def test_a_loopback_server_that_is_not_ollama_is_no_ollama(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    with ModelServer(tmp_path / "models") as server:  # listens, but has no /api/version
        assert ollama.version(server.base_url, timeout=2) is None


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
    assert raised.value.category == SYSTEM  # the machine (slow, busy), not the installation
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


# -- an archive whose size the manifest leaves out (Ollama's publishers record hashes only) ------


def without_size(archive: Path, url: str) -> dict[str, Any]:
    section = ollama_section(archive, url)
    del section["archives"][0]["size"]  # type: ignore[index]
    return section


def test_a_size_left_out_is_asked_of_the_server_and_the_hash_still_decides(
    tmp_path: Path, release: Any
) -> None:
    archive, server = release
    server.add("signed/" + archive.name, archive.read_bytes())
    # A release link as GitHub's: a redirect to a signed URL that answers GETs, not HEADs.
    server.set_fault(archive.name, Fault.signed("signed/" + archive.name, uses=4))
    ctx, events = ctx_with(tmp_path, without_size(archive, server.url(archive.name)), ["m"])
    assert ctx.manifest.ollama_archives[0].size == 0
    ollama_models.run(ctx)
    assert ollama.installed_binary(ctx.target) is not None
    asked = [r for r in server.requests if r.range == "bytes=0-0"]
    assert asked and asked[0].method == "GET"
    assert event(events, "ollama_installed")["size"] == archive.stat().st_size
    assert not children()


def test_a_server_that_ignores_the_range_tells_the_size_by_its_length(
    tmp_path: Path, release: Any
) -> None:
    archive, server = release
    server.set_fault(archive.name, Fault.ignore_range(times=1))
    assert ollama.archive_size(server.url(archive.name), 5) == archive.stat().st_size


def test_a_size_left_out_with_a_wrong_hash_installs_nothing(tmp_path: Path, release: Any) -> None:
    archive, server = release
    section = without_size(archive, server.url(archive.name))
    section["archives"][0]["sha256"] = "0" * 64
    ctx, _ = ctx_with(tmp_path, section, ["m"], retries=0)
    with pytest.raises(InstallError) as raised:
        ollama_models.run(ctx)
    assert raised.value.category == INSTALLATION
    assert ollama.installed_binary(ctx.target) is None


def test_an_archive_that_is_not_there_says_so(tmp_path: Path, release: Any) -> None:
    _, server = release
    with pytest.raises(InstallError) as raised:
        ollama.archive_size(server.url("ollama-missing.tgz"), 5)
    assert raised.value.category == INSTALLATION
    assert str(raised.value) == (
        "the Ollama archive ollama-missing.tgz is not there: HTTP 404 from 127.0.0.1"
    )


def test_a_size_given_as_zero_is_a_manifest_error(tmp_path: Path, release: Any) -> None:
    archive, server = release
    section = ollama_section(archive, server.url(archive.name))
    section["archives"][0]["size"] = 0  # type: ignore[index]
    with pytest.raises(ConfigurationError, match="size must be a positive number of bytes"):
        ctx_with(tmp_path, section, ["m"])


def test_the_bundled_manifest_names_ollama_0_13_5_for_every_platform() -> None:
    """The last release whose Linux archive is a .tgz (0.14.0 moved Linux to .tar.zst, which
    the installer cannot unpack); hashes from the publishers' records (docs/stack.md)."""
    archives = load_manifest(None).ollama_archives
    platforms = {(a.os, a.arch) for a in archives}
    assert platforms == {(o, a) for o in ("linux", "darwin", "windows") for a in ("amd64", "arm64")}
    for archive in archives:
        assert archive.url.startswith("https://github.com/ollama/ollama/releases/download/v0.13.5/")
        assert archive.name.endswith(".zip" if archive.os == "windows" else ".tgz")
        assert archive.size == 0  # asked of the server: no public record of the sizes


def test_serving_tells_a_held_port_from_a_broken_ollama(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin = install_standin_ollama(tmp_path / "inst")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        held = holder.getsockname()[1]
        wrapper = tmp_path / "held-ollama"  # the stand-in, made to listen on the held port
        wrapper.write_text(f'#!/bin/sh\nOLLAMA_HOST=127.0.0.1:{held} exec "{standin}" "$@"\n')
        wrapper.chmod(0o755)
        with (
            pytest.raises(InstallError) as raised,
            ollama.serving(wrapper, tmp_path / "models", tmp_path / "serve.log", 10),
        ):
            pass
    assert raised.value.category == SYSTEM
    assert "another program holds that port" in str(raised.value)
    broken = tmp_path / "inst" / "ollama" / "bin" / "ollama"
    broken.write_text("#!/bin/sh\necho 'panic: bad build' >&2\nexit 2\n")
    with (
        pytest.raises(InstallError) as raised,
        ollama.serving(broken, tmp_path / "models", tmp_path / "serve.log", 10),
    ):
        pass
    assert raised.value.category == INSTALLATION
    assert str(raised.value) == "Ollama stopped as it started (exit code 2): panic: bad build"
    assert "delete the ollama folder" in raised.value.hint
    assert not children()


def test_unpack_refuses_a_hard_link_to_a_file_outside_its_folder(tmp_path: Path) -> None:
    """A hard link's target is named from the archive's top, not from the link's folder: one
    deep inside must not reach out (it would make a file outside writable from inside)."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not Ollama's")
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("lib/ollama/deep/er/link")
        info.type = tarfile.LNKTYPE
        info.linkname = "../outside.txt"
        tar.addfile(info)
    with pytest.raises(InstallError) as raised:
        ollama.unpack(bad, tmp_path / "dest")
    assert "outside its folder: lib/ollama/deep/er/link" not in str(raised.value)
    assert "outside its folder: ../outside.txt" in str(raised.value)
    assert not (tmp_path / "dest" / "lib").exists()
