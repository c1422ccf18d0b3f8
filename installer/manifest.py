"""The manifest: what DinoAir is made of, as data.

The installer ships a default manifest pointing at the real sources; ``--manifest FILE`` replaces
it (tests and the offline demo point it at local fixtures). Relative paths in a manifest resolve
against the manifest's own folder. A manifest that does not validate is a ``configuration``
error naming the field, before anything is changed on disk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigurationError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAJOR_MINOR = re.compile(r"^\d+\.\d+$")
_DRIVER = re.compile(r"^\d+(\.\d+)*$")
ACCELERATOR_NAMES = ("nvidia", "amd", "intel", "apple", "cpu")


@dataclass(frozen=True)
class Checkpoint:
    name: str
    url: str
    size: int
    sha256: str
    dest: str  # folder below the ComfyUI checkout, e.g. "models/checkpoints"


@dataclass(frozen=True)
class OllamaArchive:
    """Ollama's release archive for one OS and architecture (as Ollama names them)."""

    os: str  # linux | darwin | windows
    arch: str  # amd64 | arm64
    url: str
    size: int  # 0: not in the manifest, asked of the server before the download
    sha256: str
    unpacked_size: int = 0  # bytes once unpacked; 0: not in the manifest (preflight estimates)

    @property
    def name(self) -> str:
        """The file name the archive is saved as: the URL's last part (.tgz, .tar.gz, .zip)."""
        return self.url.rsplit("/", 1)[-1].split("?", 1)[0]


@dataclass(frozen=True)
class TorchBuild:
    """One torch build: for which accelerator (and CUDA/ROCm version), from which index."""

    name: str  # e.g. "cu128", "rocm6.4", "cpu": recorded in telemetry as the torch build
    accelerator: str  # nvidia | amd | apple | cpu
    index: str  # the package index holding this build
    requirements: tuple[str, ...]  # torch, torchvision, torchaudio (pinned or not)
    size_mb: int  # what it adds to the venv, for preflight's disk check
    cuda: str | None = None
    rocm: str | None = None
    # NVIDIA compute capabilities the build has kernels for ("7.5"); a card of the same major
    # and a higher minor runs them too (CUDA binary compatibility). Empty: not listed.
    compute: tuple[str, ...] = ()
    gfx: tuple[str, ...] = ()  # AMD gfx targets the ROCm build has kernels for
    min_driver: tuple[tuple[str, str], ...] = ()  # (os, lowest driver) under NVIDIA's MVC
    last_torch: str | None = None  # the last torch release this build exists for, if it ends
    note: str | None = None  # said in the plan when this build is chosen
    os: tuple[str, ...] = ()  # linux | windows | darwin: where PyTorch publishes it (empty: all)


@dataclass(frozen=True)
class RetiredArch:
    """NVIDIA cards no build in the manifest has kernels for: the last torch that had them."""

    compute: str  # "3.7": cards of this compute capability (same major, this minor or higher)
    last_torch: str  # "2.7"
    build: str  # "cu118": the CUDA build of that torch that carried the kernels
    source: str  # where this is written down


@dataclass(frozen=True)
class LaunchRule:
    """ComfyUI flags for a kind of card, as data: ``--lowvram`` at <= 4 GiB, fp32 VAE on 16xx."""

    flags: tuple[str, ...]
    accelerator: str | None = None  # only for this accelerator
    vram_gib_max: int | None = None  # only at this much VRAM or less
    model: str | None = None  # only when the GPU model matches this regular expression
    why: str = ""


@dataclass(frozen=True)
class Manifest:
    source: Path  # the manifest file; relative paths resolve against its folder
    comfyui_repo: str
    comfyui_ref: str
    ollama_models: tuple[str, ...]
    checkpoints: tuple[Checkpoint, ...]
    webgui_dir: Path
    workflows_dir: Path
    comfyui_released: str | None = None  # RFC 3339 date: resolve ComfyUI's requirements as of it
    lock: Path | None = None  # a pinned requirements file used instead of requirements.txt
    requirements_mb: int = 1500  # ComfyUI's requirements other than torch, in the venv
    torch_builds: tuple[TorchBuild, ...] = ()
    launch_rules: tuple[LaunchRule, ...] = ()
    retired_archs: tuple[RetiredArch, ...] = ()  # torch.retired: cards older than every build
    # The project's repository, whose tracker takes bug reports: written to install_summary.json
    # so that ``dinoair-telemetry report-issue --install-dir`` finds it without the installer.
    issue_tracker: str | None = None
    # Ollama's release archives, installed under the install folder when no Ollama is there.
    ollama_archives: tuple[OllamaArchive, ...] = ()
    # ollama.model_sizes: bytes a pull of each chat model takes (optional; Ollama's registry
    # names no size before the pull, so preflight's disk check estimates the ones left out).
    ollama_model_sizes: tuple[tuple[str, int], ...] = ()
    # The maintainers' signed known-issues feed (otel_local_exporter.known_issues); fetched only
    # with the user's fix_notifications_enabled switch on.
    known_issues: str | None = None
    # CPython versions torch and ComfyUI support, preferred first ("3.12"); empty: any the
    # installer runs on. A Python not listed gets a uv-managed one (installer.python_choice).
    python_supported: tuple[str, ...] = ()

    @property
    def download_bytes(self) -> int:
        return sum(c.size for c in self.checkpoints)

    def ollama_archive(self, system: str, arch: str) -> OllamaArchive | None:
        """The Ollama release archive for this OS and architecture, if the manifest names one."""
        return next((a for a in self.ollama_archives if (a.os, a.arch) == (system, arch)), None)

    def ollama_model_size(self, model: str) -> int | None:
        """The bytes the manifest gives for pulling ``model``, or None."""
        return dict(self.ollama_model_sizes).get(model)

    @classmethod
    def unloaded(cls, source: Path) -> Manifest:
        """Stands in for a manifest that did not load: the run's preflight fails with the load
        error, so no step reads it, and it names nothing to install in any case."""
        return cls(
            source=source,
            comfyui_repo="",
            comfyui_ref="",
            ollama_models=(),
            checkpoints=(),
            webgui_dir=source.parent,
            workflows_dir=source.parent,
        )


def default_manifest_path() -> Path:
    return Path(str(resources.files("installer") / "data" / "manifest.json"))


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate a manifest. Raises :class:`ConfigurationError` with the field at fault."""
    path = Path(path) if path else default_manifest_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"manifest not found: {path.name}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"manifest {path.name} cannot be read: {exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"manifest {path.name} is not valid JSON: {exc}") from None
    return _parse(data, path.resolve())


def _parse(data: Any, path: Path) -> Manifest:
    where = path.name
    if not isinstance(data, dict):
        raise ConfigurationError(f"manifest {where}: expected a JSON object")
    comfy = _field(data, "comfyui", dict, where)
    repo = _field(comfy, "repo", str, f"{where}: comfyui")
    ref = _field(comfy, "ref", str, f"{where}: comfyui")
    if not repo.strip() or not ref.strip():
        raise ConfigurationError(f"manifest {where}: comfyui.repo and .ref must not be empty")
    models = _field(data, "ollama_models", list, where)
    if not all(isinstance(m, str) and m.strip() for m in models):
        raise ConfigurationError(f"manifest {where}: ollama_models must be a list of model names")
    checkpoints = tuple(
        _checkpoint(entry, f"{where}: checkpoints[{i}]")
        for i, entry in enumerate(_field(data, "checkpoints", list, where))
    )
    names = [c.name for c in checkpoints]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"manifest {where}: checkpoint names must be unique")
    base = path.parent
    released = comfy.get("released")
    if released is not None and not (isinstance(released, str) and _DATE.match(released)):
        raise ConfigurationError(f"manifest {where}: comfyui.released must be a date (YYYY-MM-DD)")
    lock = comfy.get("lock")
    if lock is not None and not isinstance(lock, str):
        raise ConfigurationError(f"manifest {where}: comfyui.lock must be a file path")
    requirements_mb = comfy.get("requirements_mb", 1500)
    if isinstance(requirements_mb, bool) or not isinstance(requirements_mb, int):
        raise ConfigurationError(f"manifest {where}: comfyui.requirements_mb must be a number")
    torch = data.get("torch", {"builds": []})
    if not isinstance(torch, dict) or not isinstance(torch.get("builds"), list):
        raise ConfigurationError(f"manifest {where}: torch.builds must be a list")
    builds = tuple(
        _torch_build(entry, f"{where}: torch.builds[{i}]")
        for i, entry in enumerate(torch["builds"])
    )
    rules = torch.get("launch_flags", [])
    if not isinstance(rules, list):
        raise ConfigurationError(f"manifest {where}: torch.launch_flags must be a list")
    launch_rules = tuple(
        _launch_rule(entry, f"{where}: torch.launch_flags[{i}]") for i, entry in enumerate(rules)
    )
    retired = torch.get("retired", [])
    if not isinstance(retired, list):
        raise ConfigurationError(f"manifest {where}: torch.retired must be a list")
    retired_archs = tuple(
        _retired(entry, f"{where}: torch.retired[{i}]") for i, entry in enumerate(retired)
    )
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise ConfigurationError(f"manifest {where}: project must be an object")
    tracker = project.get("issue_tracker")
    if tracker is not None and not (
        isinstance(tracker, str) and tracker.startswith(("https://", "http://"))
    ):
        raise ConfigurationError(f"manifest {where}: project.issue_tracker must be an http(s) URL")
    feed = project.get("known_issues")
    if feed is not None and not (
        isinstance(feed, str) and feed.startswith(("https://", "http://"))
    ):
        raise ConfigurationError(f"manifest {where}: project.known_issues must be an http(s) URL")
    return Manifest(
        source=path,
        python_supported=_python_supported(data.get("python", {}), where),
        comfyui_repo=_resolve_repo(repo, base),
        comfyui_ref=ref,
        ollama_models=tuple(models),
        checkpoints=checkpoints,
        webgui_dir=base / _field(data, "webgui", str, where),
        workflows_dir=base / _field(data, "workflows", str, where),
        comfyui_released=released,
        lock=(base / lock) if lock else None,
        requirements_mb=requirements_mb,
        torch_builds=builds,
        launch_rules=launch_rules,
        retired_archs=retired_archs,
        issue_tracker=tracker,
        ollama_archives=_ollama_archives(data.get("ollama", {}), f"{where}: ollama"),
        ollama_model_sizes=_model_sizes(data.get("ollama", {}), models, f"{where}: ollama"),
        known_issues=feed,
    )


def _ollama_archives(section: Any, where: str) -> tuple[OllamaArchive, ...]:
    if not isinstance(section, dict) or not isinstance(section.get("archives", []), list):
        raise ConfigurationError(f"manifest {where}: expected an object with an archives list")
    archives = []
    for i, entry in enumerate(section.get("archives", [])):
        at = f"{where}.archives[{i}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"manifest {at}: expected an object")
        system, arch = _field(entry, "os", str, at), _field(entry, "arch", str, at)
        if system not in ("linux", "darwin", "windows") or arch not in ("amd64", "arm64"):
            raise ConfigurationError(
                f"manifest {at}: os must be linux, darwin or windows and arch amd64 or arm64"
            )
        url = _field(entry, "url", str, at)
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"manifest {at}: url must be http(s)")
        # size may be left out (0): the release's publishers record hashes, not sizes, so
        # ollama_models then asks the server; the SHA-256 still decides what is accepted.
        size = _field(entry, "size", int, at) if "size" in entry else 0
        if size < 0 or (size == 0 and "size" in entry):
            raise ConfigurationError(f"manifest {at}: size must be a positive number of bytes")
        sha = _field(entry, "sha256", str, at).lower()
        if not _SHA256.match(sha):
            raise ConfigurationError(f"manifest {at}: sha256 must be 64 hex digits")
        unpacked = _positive(entry, "unpacked_size", at)
        archive = OllamaArchive(system, arch, url, size, sha, unpacked)
        if not archive.name.endswith((".tgz", ".tar.gz", ".zip")) or not _SAFE_NAME.match(
            archive.name
        ):
            raise ConfigurationError(f"manifest {at}: url must name a .tgz, .tar.gz or .zip file")
        archives.append(archive)
    return tuple(archives)


def _model_sizes(section: Any, models: list[str], where: str) -> tuple[tuple[str, int], ...]:
    """``ollama.model_sizes``: {model name in ollama_models: bytes}, each optional."""
    sizes = section.get("model_sizes", {}) if isinstance(section, dict) else {}
    if not isinstance(sizes, dict):
        raise ConfigurationError(f"manifest {where}.model_sizes: expected an object")
    found = []
    for name in sizes:
        if name not in models:
            raise ConfigurationError(
                f"manifest {where}.model_sizes: {name!r} is not one of ollama_models"
            )
        found.append((name, _positive(sizes, name, f"{where}.model_sizes")))
    return tuple(found)


def _positive(entry: dict, key: str, where: str) -> int:
    """An optional byte count: 0 when absent, else a positive whole number."""
    if key not in entry:
        return 0
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"manifest {where}: {key} must be a positive number of bytes")
    return value


def _python_supported(section: Any, where: str) -> tuple[str, ...]:
    supported = section.get("supported", []) if isinstance(section, dict) else None
    if not isinstance(supported, list) or not all(
        isinstance(v, str) and _MAJOR_MINOR.match(v) for v in supported
    ):
        raise ConfigurationError(
            f'manifest {where}: python.supported must list versions like "3.12"'
        )
    return tuple(supported)


def _torch_build(entry: Any, where: str) -> TorchBuild:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"manifest {where}: expected an object")
    accelerator = _field(entry, "accelerator", str, where)
    if accelerator not in ACCELERATOR_NAMES:
        raise ConfigurationError(
            f"manifest {where}: accelerator must be one of {', '.join(ACCELERATOR_NAMES)}"
        )
    requirements = _field(entry, "requirements", list, where)
    if not requirements or not all(isinstance(r, str) and r.strip() for r in requirements):
        raise ConfigurationError(f"manifest {where}: requirements must list torch and friends")
    size = _field(entry, "size_mb", int, where)
    versions = {key: entry.get(key) for key in ("cuda", "rocm")}
    for key, value in versions.items():
        if value is not None and not (isinstance(value, str) and _MAJOR_MINOR.match(value)):
            raise ConfigurationError(f"manifest {where}: {key} must look like 12.8")
    if accelerator == "nvidia" and versions["cuda"] is None:
        raise ConfigurationError(f"manifest {where}: an nvidia build needs its cuda version")
    return TorchBuild(
        name=_field(entry, "name", str, where),
        accelerator=accelerator,
        index=_field(entry, "index", str, where),
        requirements=tuple(requirements),
        size_mb=size,
        cuda=versions["cuda"],
        rocm=versions["rocm"],
        compute=_strings(entry, "compute", where, _MAJOR_MINOR),
        gfx=_strings(entry, "gfx", where, re.compile(r"^gfx[0-9a-f]+$")),
        min_driver=tuple(sorted(_min_driver(entry, where).items())),
        last_torch=_optional_str(entry, "last_torch", where),
        note=_optional_str(entry, "note", where),
        os=_strings(entry, "os", where, re.compile(r"^(linux|windows|darwin)$")),
    )


def _retired(entry: Any, where: str) -> RetiredArch:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"manifest {where}: expected an object")
    compute = _field(entry, "compute", str, where)
    if not _MAJOR_MINOR.match(compute):
        raise ConfigurationError(f"manifest {where}: compute must look like 3.7")
    return RetiredArch(
        compute=compute,
        last_torch=_field(entry, "last_torch", str, where),
        build=_field(entry, "build", str, where),
        source=_field(entry, "source", str, where),
    )


def _strings(entry: dict, key: str, where: str, shape: re.Pattern[str]) -> tuple[str, ...]:
    values = entry.get(key, [])
    if not isinstance(values, list) or not all(
        isinstance(v, str) and shape.match(v) for v in values
    ):
        raise ConfigurationError(f"manifest {where}: {key} must be a list like {shape.pattern}")
    return tuple(values)


def _min_driver(entry: dict, where: str) -> dict[str, str]:
    value = entry.get("min_driver", {})
    if not isinstance(value, dict) or not all(
        key in ("linux", "windows") and isinstance(v, str) and _DRIVER.match(v)
        for key, v in value.items()
    ):
        raise ConfigurationError(
            f"manifest {where}: min_driver must map linux/windows to a driver like 525.60.13"
        )
    return value


def _optional_str(entry: dict, key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"manifest {where}: {key!r} must be str")
    return value


def _launch_rule(entry: Any, where: str) -> LaunchRule:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"manifest {where}: expected an object")
    flags = _field(entry, "flags", list, where)
    if not all(isinstance(f, str) and f.startswith("--") for f in flags):
        raise ConfigurationError(f"manifest {where}: flags must be ComfyUI options like --lowvram")
    vram = entry.get("vram_gib_max")
    if vram is not None and (isinstance(vram, bool) or not isinstance(vram, int)):
        raise ConfigurationError(f"manifest {where}: vram_gib_max must be a number")
    model = _optional_str(entry, "model", where)
    if model is not None:
        try:
            re.compile(model)
        except re.error as exc:
            raise ConfigurationError(f"manifest {where}: model is not a valid pattern") from exc
    return LaunchRule(
        flags=tuple(flags),
        accelerator=_optional_str(entry, "accelerator", where),
        vram_gib_max=vram,
        model=model,
        why=_optional_str(entry, "why", where) or "",
    )


def _checkpoint(entry: Any, where: str) -> Checkpoint:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"manifest {where}: expected an object")
    name = _field(entry, "name", str, where)
    if not _SAFE_NAME.match(name):
        raise ConfigurationError(f"manifest {where}: name {name!r} is not a plain file name")
    url = _field(entry, "url", str, where)
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError(f"manifest {where}: url must be http(s)")
    size = _field(entry, "size", int, where)
    if isinstance(size, bool) or size <= 0:
        raise ConfigurationError(f"manifest {where}: size must be a positive number of bytes")
    sha = _field(entry, "sha256", str, where).lower()
    if not _SHA256.match(sha):
        raise ConfigurationError(f"manifest {where}: sha256 must be 64 hex digits")
    dest = _field(entry, "dest", str, where)
    pure = PurePosixPath(dest)
    if pure.is_absolute() or ".." in pure.parts or not dest.startswith("models/"):
        raise ConfigurationError(f"manifest {where}: dest must be a folder under models/")
    return Checkpoint(name, url, size, sha, dest)


def _field(data: dict, key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ConfigurationError(f"manifest {where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigurationError(f"manifest {where}: {key!r} must be {kind.__name__}")
    return value


def _resolve_repo(repo: str, base: Path) -> str:
    """Remote URLs stay as they are; a local path resolves against the manifest's folder."""
    if "://" in repo or repo.startswith("git@"):
        return repo
    return str((base / repo).resolve())
