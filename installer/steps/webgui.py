"""Install the DinoAir web GUI into ``<target>/webgui``.

The bundled files replace their installed copies; everything else in the folder stays
(``node_modules``, files the user added). ``config.json`` tells the app which Ollama model to
chat with; the installer owns it (``DINOAIR_MODEL`` overrides it when the app starts).

The bundled GUI is a static page and a small ``/api/config``: ``server.py`` serves it with the
venv's Python, so a GUI whose ``package.json`` declares no dependencies needs no Node.js and the
step completes with ``npm: "not_needed"``. A manifest GUI that does declare dependencies keeps
the npm path: ``npm ci`` (or ``npm install`` without a lock file) runs once, and a stamp holding
the hash of ``package.json`` and ``package-lock.json`` lets a second run skip it as
``already_installed``; without npm such a GUI is skipped as ``npm_not_found``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..context import CPU, NETWORK, InstallContext, Step
from ..errors import ConfigurationError
from ..fsutil import write_atomic

FOLDER = "webgui"
STAMP = ".dinoair-npm-stamp"
CONFIG = "config.json"
LOG_NAME = "npm.log"
_NOT_BUNDLED = {"node_modules", STAMP, CONFIG}  # never copied from the bundle, never replaced
_NPM_FLAGS = ("--no-audit", "--no-fund")


def describe(ctx: InstallContext) -> str:
    if not _declared_dependencies(ctx.manifest.webgui_dir):
        return f"copy the web GUI into {FOLDER}/ (served by Python: no Node.js needed)"
    return (
        f"copy the web GUI into {FOLDER}/ (keeping node_modules and your own files), "
        "then install its npm dependencies unless they are already installed"
    )


def run(ctx: InstallContext) -> None:
    source = ctx.manifest.webgui_dir
    if not (source / "package.json").is_file():
        raise ConfigurationError(
            f"the bundled web GUI folder {source.name!r} has no package.json",
            hint="point the manifest's 'webgui' at the web GUI folder, or reinstall the installer",
        )
    dest = ctx.target / FOLDER
    written, unchanged = _copy_bundle(source, dest)
    _write_config(dest, ctx.manifest.ollama_models)
    outcome = {
        "folder": FOLDER,
        "files_written": written,
        "files_unchanged": unchanged,
        "npm": "not_run",
    }
    ctx.outcomes["webgui"] = outcome
    ctx.event("webgui_copied", written=written, unchanged=unchanged)

    changed = "installed" if written else "present"
    if not _declared_dependencies(dest):
        outcome["npm"] = "not_needed"  # served by server.py with the venv's Python
        outcome["server"] = "python" if (dest / "server.py").is_file() else "node"
        ctx.event("component", component="webgui", status=changed, source="bundle")
        return
    outcome["server"] = "node"
    npm = ctx.tools.get("npm")
    if not npm:
        ctx.event("component", component="webgui", status="skipped", source="npm_not_found")
        ctx.skip(
            "npm_not_found",
            "this web GUI has npm dependencies: install Node.js (it comes with npm), "
            "then re-run the installer",
        )
    stamp = _stamp(dest)
    if _installed_stamp(dest) == stamp and _dependencies_present(dest):
        outcome["npm"] = "already_installed"
        ctx.event("component", component="webgui", status=changed, source="npm")
        ctx.skip("already_installed")
    command = "ci" if (dest / "package-lock.json").is_file() else "install"
    ctx.run([npm, command, *_NPM_FLAGS], log_name=LOG_NAME, cwd=dest, what=f"npm {command}")
    # `npm install` may have written package-lock.json: stamp what is there now.
    write_atomic(dest / STAMP, (_stamp(dest) + "\n").encode())
    outcome["npm"] = command
    ctx.event("npm_installed", command=command)
    ctx.event("component", component="webgui", status="installed", source="npm")


def _copy_bundle(source: Path, dest: Path) -> tuple[int, int]:
    """Copy the bundled tree over ``dest``; returns (files written, files already identical)."""
    written = unchanged = 0
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_BUNDLED)
        relative = Path(folder).relative_to(source)
        (dest / relative).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if name in _NOT_BUNDLED and relative == Path("."):
                continue
            src, dst = Path(folder) / name, dest / relative / name
            data = src.read_bytes()
            if dst.is_file() and not dst.is_symlink() and dst.read_bytes() == data:
                unchanged += 1
                continue
            write_atomic(dst, data)
            shutil.copymode(src, dst)
            written += 1
    return written, unchanged


def _write_config(dest: Path, models: tuple[str, ...]) -> None:
    config = {"model": models[0]} if models else {}
    data = (json.dumps(config, indent=2) + "\n").encode()
    path = dest / CONFIG
    if not path.is_file() or path.read_bytes() != data:
        write_atomic(path, data)


def _stamp(dest: Path) -> str:
    """What the installed dependencies depend on: package.json and the lock file, if any."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = dest / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(none)")
        digest.update(b"\0")
    return digest.hexdigest()


def _installed_stamp(dest: Path) -> str | None:
    try:
        return (dest / STAMP).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _dependencies_present(dest: Path) -> bool:
    """With dependencies declared, ``node_modules`` must exist (the user may have deleted it)."""
    return not _declared_dependencies(dest) or (dest / "node_modules").is_dir()


def _declared_dependencies(folder: Path) -> bool:
    """Whether the GUI's ``package.json`` declares dependencies (an unreadable one counts as yes:
    npm, not a guess, then says what is wrong with it)."""
    try:
        package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except OSError:
        return False
    except ValueError:
        return True
    return not isinstance(package, dict) or bool(package.get("dependencies"))


STEP = Step(
    name="webgui",
    run=run,
    describe=describe,
    needs=("preflight",),
    uses=frozenset({NETWORK, CPU}),
)
