"""Python dependencies: a venv next to ComfyUI, the right torch first, then its requirements.

ComfyUI gets its own virtual environment at ``<target>/venv`` so its pins never touch the user's
Python. The torch build chosen for the machine (:mod:`installer.torch_plan`) is installed first
from its index; then ComfyUI's ``requirements.txt`` with a constraints file holding exactly that
torch, so the resolver can never swap in another build. ComfyUI's requirements are resolved as
of the release date in the manifest (uv's ``--exclude-newer``) unless the manifest has a lock.

uv (a dependency of the installer) does the work, ``uv pip install --python venv/...``; pip is
the fallback (``--installer pip``, or uv cannot run here). A live line shows progress; the full
output goes to ``logs/``. A stamp in the venv records what was installed (requirements, torch
build, index, date); while it matches the step is skipped. It is written only after success.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TextIO

from ..context import CPU, NETWORK, VENV, InstallContext, Step
from ..errors import InstallError, NetworkError, SystemRequirementError
from ..fsutil import write_atomic
from ..hardware import Hardware
from ..index_settings import IndexSettings, pip_settings
from ..lifecycle.venv_clone import clone_venv
from ..python_choice import PythonChoice, choose_python, what_to_install
from ..torch_plan import TorchPlan, plan_torch
from ..units import size

STAMP_NAME = ".dinoair-requirements.json"
VENV_MARKER = ".dinoair-venv-complete"  # written once venv + ensurepip finished
CONSTRAINTS_NAME = "dinoair-torch-constraints.txt"  # in the venv: the torch build held
PIP_LOG = "pip-install.log"
UV_LOG = "uv-install.log"
VENV_LOG = "venv.log"

# pip's wording when the index could not be reached (the log tail is what we have to go on).
_NETWORK_MARKERS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Max retries exceeded",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "Read timed out",
    "ProxyError",
    "Connection reset by peer",
    "Connection broken",
    # uv
    "Failed to fetch",
    "error sending request",
    "tcp connect error",
    "dns error",
    "Connection refused",
    "operation timed out",
)
_DISK_FULL_MARKERS = ("No space left on device", "[Errno 28]")


def venv_dir(ctx: InstallContext) -> Path:
    return ctx.venv_dir  # the new venv beside the old during an update


def venv_python(ctx: InstallContext) -> Path:
    if os.name == "nt":
        return venv_dir(ctx) / "Scripts" / "python.exe"
    return venv_dir(ctx) / "bin" / "python"


def requirements_file(ctx: InstallContext) -> Path:
    return ctx.comfyui_dir / "requirements.txt"


def run(ctx: InstallContext) -> None:
    requirements = ctx.manifest.lock or requirements_file(ctx)
    plan = plan_torch(ctx.manifest, ctx.hardware or Hardware(), ctx.options.torch_index)
    digest = _digest(ctx, requirements, plan)
    if digest is None:
        raise InstallError(
            f"ComfyUI/{requirements.name} is missing, so its Python dependencies cannot be "
            "installed",
            hint="the ComfyUI checkout looks incomplete: rename or delete the ComfyUI folder "
            "and re-run to clone it again",
        )
    cloned = _clone_previous(ctx)
    if _stamp_matches(ctx, digest):
        if cloned:
            ctx.skip("cloned_previous", "the new release needs what the venv in use has")
        ctx.skip("already_installed", "requirements unchanged since the last successful install")

    tool = installer_for(ctx)
    created = _ensure_venv(ctx, tool)
    count = len(_requirement_lines(requirements))
    started = time.monotonic()
    progress = Progress(
        tool.name,
        enabled=sys.stderr.isatty() and not ctx.options.verbose and not ctx.live,
        report=(lambda text: ctx.progress(phase=text)) if ctx.live else None,
    )
    try:
        held: dict[str, str] = {}
        if plan is not None and isinstance(tool, _Uv):  # one resolution, torch pinned
            tool.install_together(ctx, plan, requirements, progress)
            held = _installed_versions(ctx, plan, progress.added)
            _check_build(plan, held)
            _write_constraints(ctx, held)
        else:  # pip: torch first from its index, then the rest with it held
            if plan is not None:
                tool.install_torch(ctx, plan, progress)
                held = _installed_versions(ctx, plan, progress.added)
                _check_build(plan, held)
            constraints = _write_constraints(ctx, held)
            tool.install_requirements(ctx, plan, requirements, constraints, held, progress)
    finally:
        progress.close()
    seconds = round(time.monotonic() - started, 3)
    ctx.add_bytes(progress.bytes)
    ctx.event(
        "requirements_installed",
        installer=tool.name,
        requirements=count,
        resolved=progress.resolved,
        downloaded=progress.downloaded,
        installed=progress.installed,
        bytes=progress.bytes,
        seconds=seconds,
        torch_build=plan.build.name if plan else "",
        exclude_newer=_exclude_newer(ctx) or "",
    )
    _write_stamp(ctx, digest, held)
    ctx.outcomes["python_deps"] = {
        "venv_created": created,
        "installer": tool.name,
        "requirements": count,
        "packages_installed": progress.installed,
        "seconds": seconds,
        "torch": held,
        "torch_build": plan.build.name if plan else None,
        "torch_index": plan.index if plan else None,
        "resolved_as_of": _exclude_newer(ctx),
    }


def describe(ctx: InstallContext) -> str:
    requirements = ctx.manifest.lock or requirements_file(ctx)
    plan = plan_torch(ctx.manifest, ctx.hardware or Hardware(), ctx.options.torch_index)
    digest = _digest(ctx, requirements, plan)
    if digest is not None and _stamp_matches(ctx, digest):
        return "skip: the venv already has these requirements and this torch build installed"
    choice = choose_python(ctx.manifest, ctx.options.python)
    fits = venv_python(ctx).exists() and _venv_fits(ctx, choice)
    venv = "reuse venv/" if fits else f"create a Python {choice.version} venv in venv/"
    when = _exclude_newer(ctx)
    as_of = f", resolved as of {when[:10]}" if when else ""
    if plan is not None and ctx.options.installer == "uv":
        return (
            f"{venv}; with uv install torch build {plan.build.name} (pinned to {plan.index}) "
            f"and ComfyUI's {requirements.name} in one resolution{as_of}"
        )
    torch = f"torch build {plan.build.name} from {plan.index}, then " if plan else ""
    return (
        f"{venv}; with {ctx.options.installer} install {torch}ComfyUI's "
        f"{requirements.name}{' (held torch)' if plan else ''}{as_of}"
    )


# -- the venv ------------------------------------------------------------------------------------


def _clone_previous(ctx: InstallContext) -> bool:
    """During an update, start the new venv as a clone of the one in use (only the difference
    is then installed; nothing when the requirements are the same). False when not cloned."""
    previous = ctx.target / "venv"
    folder = venv_dir(ctx)
    if ctx.venv_override is None or folder.exists() or folder == previous:
        return False
    if not (previous / VENV_MARKER).exists():
        return False
    started = time.monotonic()
    try:
        files = clone_venv(previous, folder)
    except OSError as exc:  # a clone is an optimisation: build the venv from nothing instead
        ctx.event("venv_clone_failed", error=type(exc).__name__)
        return False
    ctx.event("venv_cloned", files=files, seconds=round(time.monotonic() - started, 3))
    ctx.echo("  started the new venv as a clone of the one in use (hard links)")
    return True


def _ensure_venv(ctx: InstallContext, tool: _Installer) -> bool:
    """Create the venv unless a complete one exists; True when it was created.

    uv creates it in milliseconds and without pip (uv installs into it); pip needs pip inside,
    so for ``--installer pip`` it is ``python -m venv`` (or ``ensurepip`` into a uv-made venv).
    """
    folder = venv_dir(ctx)
    marker = folder / VENV_MARKER
    choice = choose_python(ctx.manifest, ctx.options.python)
    fits = _venv_fits(ctx, choice)
    if venv_python(ctx).exists() and marker.exists() and fits:
        if not isinstance(tool, _Uv) and not _has_pip(ctx):
            ctx.run(
                [str(venv_python(ctx)), "-m", "ensurepip"],
                log_name=VENV_LOG,
                what="adding pip to the venv",
            )
        return False
    if folder.exists() or folder.is_symlink():
        # A venv without its python (Python upgraded or removed) or without the marker (killed
        # while ensurepip ran, so pip may be half there) cannot be trusted or repaired in place;
        # it holds nothing but re-installable packages, so start over.
        reason = "no_python" if not venv_python(ctx).exists() else "incomplete"
        reason = reason if fits else "python_changed"  # --python chose another version
        ctx.event("venv_recreated", reason=reason)
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
        else:
            folder.unlink()
    log = ctx.logs_dir / VENV_LOG
    start = log.stat().st_size if log.exists() else 0
    started = time.monotonic()
    try:
        cmd = [sys.executable, "-m", "venv", str(folder)]
        if isinstance(tool, _Uv):  # this Python, or X.Y that uv finds or downloads
            cmd = [tool.binary, "venv", "--python", choice.request, str(folder)]
        ctx.run(cmd, log_name=VENV_LOG, what="creating the Python venv")
    except InstallError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if not choice.running:
            raise _no_python(ctx, choice, exc, log, start) from exc
        if _log_mentions(log, start, ("ensurepip",)):
            raise SystemRequirementError(
                f"this Python cannot create a venv with pip: {exc}",
                hint="install the venv support for this Python (Debian/Ubuntu: "
                f"apt install python3-venv), see {log}, then re-run",
            ) from exc
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave a venv without pip behind
        raise
    marker.write_text("created by the DinoAir installer\n", encoding="utf-8")
    ctx.event(
        "venv_created",
        seconds=round(time.monotonic() - started, 3),
        tool=tool.name,
        python=choice.version,
        managed=not choice.running,
    )
    return True


def _venv_version(ctx: InstallContext) -> str | None:
    """The venv's Python as X.Y, from its ``pyvenv.cfg`` (venv writes ``version``, uv
    ``version_info``); None when it cannot be read."""
    try:
        text = (venv_dir(ctx) / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            match = re.match(r"\s*(\d+\.\d+)", value)
            if match:
                return match.group(1)
    return None


def _venv_fits(ctx: InstallContext, choice: PythonChoice) -> bool:
    """An existing venv is kept unless ``--python`` asked for another version or torch cannot
    use its Python (a venv made with 3.12 stays when the installer itself runs on 3.11)."""
    found = _venv_version(ctx)
    if found is None:
        return True  # cannot tell: the stamp and the venv's own checks decide
    if ctx.options.python is not None:
        return found == choice.version
    return not ctx.manifest.python_supported or found in ctx.manifest.python_supported


def _no_python(
    ctx: InstallContext, choice: PythonChoice, exc: InstallError, log: Path, start: int
) -> InstallError:
    """`uv venv --python X.Y` failed: no such Python here and none could be downloaded."""
    hint = what_to_install(choice, ctx.manifest)
    if _log_mentions(log, start, _NETWORK_MARKERS):
        return NetworkError(
            f"a uv-managed Python {choice.version} could not be downloaded ({choice.why})",
            hint=f"check your connection or proxy (UV_PYTHON_INSTALL_MIRROR names a mirror), or "
            f"{hint}",
        )
    return SystemRequirementError(
        f"no Python {choice.version} for the ComfyUI venv ({choice.why}): {exc}",
        hint=f"{hint}; see {log}",
    )


def _has_pip(ctx: InstallContext) -> bool:
    lib = venv_dir(ctx) / ("Lib" if os.name == "nt" else "lib")
    return any(lib.glob("**/site-packages/pip/__init__.py"))


class _Installer:
    """uv or pip: the same two phases, each tool with its own command line."""

    name = "pip"
    log_name = PIP_LOG

    def install_torch(self, ctx: InstallContext, plan: TorchPlan, progress: Progress) -> None:
        # pip takes the best version across all indexes it knows: only the torch index here,
        # so PyPI's build can never win. (PyTorch's indexes carry torch's own dependencies.)
        cmd = [*self._base(ctx), "--index-url", plan.index, *plan.build.requirements]
        self._run(ctx, cmd, plan, "torch", progress)

    def install_requirements(
        self,
        ctx: InstallContext,
        plan: TorchPlan | None,
        requirements: Path,
        constraints: Path,
        held: dict[str, str],
        progress: Progress,
    ) -> None:
        extra = ["--extra-index-url", plan.index] if plan else []
        cmd = [*self._base(ctx), *extra, "-c", str(constraints), "-r", str(requirements)]
        self._run(ctx, cmd, plan, "requirements", progress)

    def _base(self, ctx: InstallContext) -> list[str]:
        return [
            str(venv_python(ctx)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "--no-input",
            "--timeout",
            str(max(1, int(ctx.options.timeout))),
            "--retries",
            str(max(0, ctx.options.retries)),
        ]

    def _env(self, ctx: InstallContext) -> dict[str, str] | None:
        return None

    def _run(
        self,
        ctx: InstallContext,
        cmd: list[str],
        plan: TorchPlan | None,
        phase: str,
        progress: Progress,
    ) -> None:
        log = ctx.logs_dir / self.log_name
        start = log.stat().st_size if log.exists() else 0  # the log appends across runs
        progress.phase(phase)
        try:
            ctx.run(
                cmd,
                log_name=self.log_name,
                cwd=ctx.comfyui_dir,
                env=self._env(ctx),
                what=f"{self.name} install ({phase})",
                on_line=progress.feed,
            )
        except InstallError as exc:
            raise _classify(exc, log, start, plan, phase) from exc


class _Uv(_Installer):
    name = "uv"
    log_name = UV_LOG

    def __init__(self, binary: str, settings: IndexSettings | Callable[[], IndexSettings]):
        self.binary = binary
        self._settings = settings

    @property
    def settings(self) -> IndexSettings:
        if callable(self._settings):
            self._settings = self._settings()
        return self._settings

    def install_torch(self, ctx: InstallContext, plan: TorchPlan, progress: Progress) -> None:
        # The torch index is the first extra index: uv's default "first index" strategy then
        # takes torch and its friends from it and never looks for them anywhere else.
        cmd = [*self._base(ctx), *self._indexes(plan), *plan.build.requirements]
        self._run(ctx, cmd, plan, "torch", progress)

    def install_requirements(
        self,
        ctx: InstallContext,
        plan: TorchPlan | None,
        requirements: Path,
        constraints: Path,
        held: dict[str, str],
        progress: Progress,
    ) -> None:
        cmd = [*self._base(ctx), *self._indexes(plan)]
        # torch is held by the constraint; for the rest, the best version across all indexes
        # (what pip does), so a package on an extra index without upload dates cannot hide it.
        cmd += ["--index-strategy", "unsafe-best-match"]
        when = _exclude_newer(ctx)
        if when and ctx.manifest.lock is None:
            cmd += ["--exclude-newer", when]
            for name in held:  # already chosen by version; torch indexes carry no upload dates
                cmd += ["--exclude-newer-package", f"{name}=false"]
        cmd += ["-c", str(constraints), "-r", str(requirements)]
        self._run(ctx, cmd, plan, "requirements", progress)

    def install_together(
        self, ctx: InstallContext, plan: TorchPlan, requirements: Path, progress: Progress
    ) -> None:
        """torch, torchvision, torchaudio and ComfyUI's requirements in one uv call: one
        resolution, and the downloads of torch and of the rest overlap.

        The build's packages are pinned to its index the way uv pins a package to an index:
        a ``[tool.uv.sources]`` entry naming an ``explicit`` index, in a small pyproject.toml
        in the venv read with ``-r``. uv then takes them from that index and nowhere else,
        whatever the strategy, so a newer torch on the user's index cannot win, while the rest
        is the best version across all indexes (the torch index stays an extra index too, for
        torch's own dependencies), resolved as of the release date. ``--torch-backend`` was
        the other way: it picks PyTorch's public index by itself, which would drop the
        manifest's index, ``--torch-index`` and any mirror.
        """
        pins = _write_torch_pins(ctx, plan)
        cmd = [*self._base(ctx), *self._indexes(plan), "--index-strategy", "unsafe-best-match"]
        when = _exclude_newer(ctx)
        if when and ctx.manifest.lock is None:
            cmd += ["--exclude-newer", when]
            for requirement in plan.build.requirements:  # torch indexes carry no upload dates
                cmd += ["--exclude-newer-package", f"{_requirement_name(requirement)}=false"]
        cmd += ["-r", str(pins), "-r", str(requirements)]
        self._run(ctx, cmd, plan, "torch and requirements", progress)

    def _indexes(self, plan: TorchPlan | None) -> list[str]:
        first = ["--extra-index-url", plan.index] if plan else []
        return [*first, *self.settings.uv_args()]

    def _base(self, ctx: InstallContext) -> list[str]:
        return [self.binary, "pip", "install", "--python", str(venv_python(ctx))]

    def _env(self, ctx: InstallContext) -> dict[str, str]:
        return {
            **os.environ,
            **self.settings.uv_env(),
            "UV_HTTP_TIMEOUT": str(max(1, int(ctx.options.timeout))),
            "UV_HTTP_RETRIES": str(max(0, ctx.options.retries)),
            "UV_NO_PROGRESS": "1",
            "NO_COLOR": "1",
        }


def installer_for(ctx: InstallContext) -> _Installer:
    """uv unless ``--installer pip`` or uv cannot run here (then pip, said and recorded)."""
    if ctx.options.installer == "pip":
        return _Installer()
    # pip's settings are read through pip's own loader, whose import is a tenth of a second:
    # read them on a thread of their own while `uv --version` and the venv's creation run.
    settings = _Background(pip_settings)
    problem = None
    try:
        import uv

        binary = uv.find_uv_bin()
        done = subprocess.run(
            [binary, "--version"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            problem = f"`uv --version` exited with {done.returncode}"
    except (ImportError, FileNotFoundError, OSError, subprocess.TimeoutExpired) as exc:
        problem = f"uv cannot run on this platform ({type(exc).__name__})"
    if problem:
        ctx.echo(f"  {problem}: installing with pip instead")
        ctx.event("installer_fallback", installer="pip", reason=problem)
        return _Installer()
    return _Uv(binary, settings.result)


class _Background:
    """``fn()`` on a daemon thread from now on; :meth:`result` waits for it (or raises what it
    raised). The thread only reads configuration, so a Ctrl-C need not stop it."""

    def __init__(self, fn: Callable[[], IndexSettings]):
        self._fn = fn
        self._value: IndexSettings | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dinoair-pip-settings")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the caller's thread in result()
            self._error = exc

    def result(self) -> IndexSettings:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _classify(
    exc: InstallError, log: Path, start: int, plan: TorchPlan | None, phase: str
) -> InstallError:
    """ctx.run says "installation"; the log often knows better (disk full, network)."""
    if _log_mentions(log, start, _DISK_FULL_MARKERS):
        return SystemRequirementError(
            f"the dependency install ran out of disk space: {exc}",
            hint=f"free disk space on the target drive (see {log}), then re-run",
        )
    if _log_mentions(log, start, _NETWORK_MARKERS):
        if plan is not None and (phase == "torch" or _log_mentions(log, start, (plan.index,))):
            return NetworkError(
                f"the torch index {plan.index} could not be reached: {exc}",
                hint="check your connection or proxy, or pass --torch-index URL to install "
                f"torch from a mirror; see {log}, then re-run",
            )
        return NetworkError(
            f"the package index could not be reached: {exc}",
            hint="check your connection or proxy (PIP_INDEX_URL, pip.conf and UV_DEFAULT_INDEX "
            f"are honoured), see {log}, then re-run",
        )
    return exc


_INSTALLED = """\
import json, sys
from importlib import metadata
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def _installed_versions(
    ctx: InstallContext, plan: TorchPlan, reported: dict[str, str]
) -> dict[str, str]:
    """The versions of the torch build's packages now in the venv: what the constraint holds.

    uv names what it installed; otherwise (pip, or already installed) the venv is asked.
    """
    names = [_requirement_name(req) for req in plan.build.requirements]
    if all(name.lower() in reported for name in names):
        return {name: reported[name.lower()] for name in names}
    done = subprocess.run(
        [str(venv_python(ctx)), "-c", _INSTALLED, *names],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = {}
    missing = [name for name in names if name not in found]
    if missing:
        raise InstallError(
            f"{', '.join(missing)} not in the venv after installing the torch build",
            hint=f"see {ctx.logs_dir} for the installer's output, then re-run",
        )
    return found


def _check_build(plan: TorchPlan, held: dict[str, str]) -> None:
    """A PyTorch index tags its builds (``2.8.0+cu128``): a tag that is not the chosen build
    means the index served the wrong torch, which would fail (or idle the GPU) later. An index
    without tags (PyPI: ``2.8.0``) cannot be judged here; verify compares what torch reports."""
    version = held.get("torch", "")
    local = version.partition("+")[2]
    if local and local != plan.build.name:
        raise InstallError(
            f"the torch index {plan.index} served torch {version}, not the {plan.build.name} "
            "build this machine needs",
            hint="check the index (or --torch-index) serves the build named in the manifest, "
            "then re-run",
        )


def _write_constraints(ctx: InstallContext, held: dict[str, str]) -> Path:
    path = venv_dir(ctx) / CONSTRAINTS_NAME
    lines = [f"{name}=={version}" for name, version in held.items()]
    write_atomic(path, "".join(f"{line}\n" for line in lines))
    return path


PINS_DIR = "dinoair-torch"  # in the venv: pyproject.toml pinning the build to its index
TORCH_INDEX_NAME = "dinoair-torch"


def _write_torch_pins(ctx: InstallContext, plan: TorchPlan) -> Path:
    """The build's requirements as a project whose ``[tool.uv.sources]`` pin each of them to
    the build's index (``explicit``: consulted for these packages only)."""
    names = [_requirement_name(req) for req in plan.build.requirements]
    deps = ", ".join(json.dumps(req) for req in plan.build.requirements)
    sources = "".join(f'{name} = {{ index = "{TORCH_INDEX_NAME}" }}\n' for name in names)
    text = (
        f'[project]\nname = "dinoair"\nversion = "0"\ndependencies = [{deps}]\n\n'
        f'[[tool.uv.index]]\nname = "{TORCH_INDEX_NAME}"\nurl = {json.dumps(plan.index)}\n'
        f"explicit = true\n\n[tool.uv.sources]\n{sources}"
    )
    path = venv_dir(ctx) / PINS_DIR / "pyproject.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ @]", requirement.strip(), maxsplit=1)[0]


def _exclude_newer(ctx: InstallContext) -> str | None:
    released = ctx.manifest.comfyui_released
    if not released or ctx.manifest.lock is not None:
        return None
    # The whole release day counts: the release itself may have needed a library from that day.
    return f"{released}T23:59:59Z"


class Progress:
    """A live line on a terminal while uv or pip runs: packages resolved, downloaded,
    installed, bytes and elapsed time. The full output goes to the log either way. With
    ``report`` (the runner's live line for the step) the counts go there instead, on every
    change, and nothing is drawn here.

    Bytes are the sizes the tools announce: uv's ``Downloading torch (846.9MiB)`` (uv names
    the large wheels only) and pip's ``Downloading x.whl (12.3 MB)``.
    """

    _RESOLVED = re.compile(r"^(?:Resolved|Audited) (\d+) packages?")
    _INSTALLED = re.compile(r"^Installed (\d+) packages?")
    _ADDED = re.compile(r"^\+ ([A-Za-z0-9._-]+)==(\S+)$")
    _SIZE = re.compile(r"^Downloading \S+ \(([\d.]+) ?(kB|KiB|MB|MiB|GB|GiB)\)")
    _UV_DOWNLOADED = re.compile(r"^(?:Downloaded \S+$|Prepared (\d+) packages?)")
    _PIP_DONE = re.compile(r"^Successfully installed (.+)")
    _UNITS: ClassVar[dict[str, int]] = {
        "kB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "KiB": 2**10,
        "MiB": 2**20,
        "GiB": 2**30,
    }

    def __init__(
        self,
        tool: str,
        *,
        enabled: bool,
        stream: TextIO | None = None,
        report: Callable[[str], None] | None = None,
    ):
        self.tool = tool
        self._report = report
        self.resolved = self.downloaded = self.installed = self.bytes = 0
        self.added: dict[str, str] = {}  # what uv reported installing, name -> version
        self._phase = ""
        self._prepared = 0
        self._started = time.monotonic()
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def phase(self, name: str) -> None:
        self._phase = name
        if self._report is not None:
            self._report(self.counts())

    def feed(self, line: str) -> None:
        self._count(line.strip())
        if self._report is not None:
            self._report(self.counts())

    def _count(self, text: str) -> None:
        with self._lock:
            if match := self._ADDED.match(text):  # uv: "+ torch==2.8.0+cpu"
                self.added[match.group(1).lower()] = match.group(2)
            elif text.startswith("Collecting "):  # pip: one line a resolved package
                self.resolved += 1
            elif match := self._RESOLVED.match(text):
                self.resolved += int(match.group(1))
            elif match := self._SIZE.match(text):
                self.bytes += int(float(match.group(1)) * self._UNITS[match.group(2)])
                if self.tool == "pip":
                    self.downloaded += 1
            elif match := self._UV_DOWNLOADED.match(text):
                if match.group(1):  # "Prepared N": the total, small wheels included
                    self.downloaded = self._prepared + int(match.group(1))
                    self._prepared = self.downloaded
                else:
                    self.downloaded += 1
            elif match := self._INSTALLED.match(text):
                self.installed += int(match.group(1))
            elif match := self._PIP_DONE.match(text):
                self.installed += len(match.group(1).split())

    def counts(self) -> str:
        """``uv (torch and requirements): 12 resolved, 3 downloaded, 0 installed, 80 MiB``."""
        with self._lock:
            counts = (
                f"{self.resolved} resolved, {self.downloaded} downloaded, "
                f"{self.installed} installed, {size(self.bytes)}"
            )
        return f"{self.tool} ({self._phase}): {counts}"

    def line(self) -> str:
        elapsed = int(time.monotonic() - self._started)
        return f"  {self.counts()}, {elapsed // 60}:{elapsed % 60:02d}"

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._stream.write("\r" + self.line()[:120].ljust(120))
            self._stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._stream.write("\r" + " " * 120 + "\r")
            self._stream.flush()


# -- the stamp -----------------------------------------------------------------------------------


def _digest(ctx: InstallContext, requirements: Path, plan: TorchPlan | None) -> str | None:
    """What the venv's content depends on: the requirements, the torch build and its index."""
    digest = _sha256(requirements)
    if digest is None:
        return None
    chosen = [plan.build.name, plan.index, *plan.build.requirements] if plan else []
    key = json.dumps([digest, chosen, _exclude_newer(ctx)])
    return hashlib.sha256(key.encode()).hexdigest()


def _stamp_matches(ctx: InstallContext, digest: str) -> bool:
    if not (venv_python(ctx).exists() and (venv_dir(ctx) / VENV_MARKER).exists()):
        return False
    if not _venv_fits(ctx, choose_python(ctx.manifest, ctx.options.python)):
        return False
    try:
        stamp = json.loads((venv_dir(ctx) / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("requirements_sha256") != digest:
        return False
    # The torch build's packages are still there (a venv that lost torch is installed again):
    # a few stats, where asking the venv's Python would cost it a start-up.
    present = stamp.get("present", [])  # stamps from before this check have none
    return isinstance(present, list) and all(
        isinstance(rel, str) and (venv_dir(ctx) / rel).exists() for rel in present
    )


def _write_stamp(ctx: InstallContext, digest: str, held: dict[str, str]) -> None:
    data = {
        "requirements_sha256": digest,
        "python": _venv_version(ctx) or "",
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "present": _held_files(ctx, held),
    }
    write_atomic(venv_dir(ctx) / STAMP_NAME, json.dumps(data))


def _held_files(ctx: InstallContext, held: dict[str, str]) -> list[str]:
    """For each package of the torch build: its ``*.dist-info/RECORD`` and its package's
    ``__init__.py``, relative to the venv, as found after the install (the stamp's check)."""
    venv = venv_dir(ctx)
    sites = [*venv.glob("lib/python*/site-packages"), *venv.glob("Lib/site-packages")]
    found: list[str] = []
    for name in held:
        normal = re.sub(r"[-_.]+", "_", name).lower()
        for site in sites:
            records = [
                info / "RECORD"
                for info in site.glob("*.dist-info")
                if info.name.lower().startswith(f"{normal}-") and (info / "RECORD").is_file()
            ]
            package = site / normal / "__init__.py"
            wanted = [*records[:1], *([package] if package.is_file() else [])]
            found += [path.relative_to(venv).as_posix() for path in wanted]
    return found


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _requirement_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _log_mentions(log: Path, start: int, markers: tuple[str, ...]) -> bool:
    try:
        with log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    except OSError:
        return False
    # the tool's output only: the "$ ..." lines are our command lines, which name every index
    output = "\n".join(line for line in text.splitlines() if not line.startswith("$ "))
    return any(marker in output for marker in markers)


STEP = Step(
    name="python_deps",
    run=run,
    describe=describe,
    needs=("comfyui",),
    uses=frozenset({NETWORK, CPU, VENV}),
)
