"""``export``: one sanitized bundle (or OTLP/JSON lines) written atomically, private to the user.

Everything was sanitized when it was recorded; export runs the sanitizer again over all of it, so
a file edited by hand or written by an older version cannot carry a path, a name or a secret out
of the machine. Only file *names* of skipped files go into the bundle, never their paths.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from otel_local_exporter import InvalidFile, StoredFile, atomic_write, iso_z, utc_now

BUNDLE_FORMAT = "dinoair-telemetry-export"
BUNDLE_VERSION = 1
FILE_MODE = 0o600


class TargetExistsError(FileExistsError):
    """The export file exists and ``--force`` was not given."""


@dataclass
class Export:
    payload: bytes
    sessions: int = 0
    crash_reports: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def relative_name(path: Path, home: Path) -> str:
    """``telemetry/session_x.json``: the file's place under the home, without the home's path.

    A name that is not valid text (bytes smuggled in as surrogates) is shown escaped.
    """
    try:
        name = path.relative_to(home).as_posix()
    except ValueError:
        name = path.name
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _sanitized(sanitizer: Any, item: Any, name: str, export: Export) -> Any | None:
    try:
        return sanitizer.value(item)
    except RecursionError:
        export.skipped.append((name, "nested too deeply to sanitize"))
        return None


def build_json_bundle(
    *,
    config: Mapping[str, Any] | None,
    config_problem: str | None,
    sessions: Sequence[StoredFile],
    crashes: Sequence[StoredFile],
    invalid: Sequence[InvalidFile],
    home: Path,
    exported_by: str,
) -> Export:
    """The whole bundle: config (its ids, nothing else from the machine), sessions, crashes."""
    from otel_local_exporter import Sanitizer

    sanitizer = Sanitizer()
    export = Export(b"")
    export.skipped.extend((relative_name(f.path, home), f.reason) for f in invalid)
    docs = []
    for stored in sessions:
        doc = _sanitized(sanitizer, stored.data, relative_name(stored.path, home), export)
        if doc is not None:
            docs.append(doc)
    reports = []
    for stored in crashes:
        report = _sanitized(sanitizer, stored.data, relative_name(stored.path, home), export)
        if report is not None:
            reports.append(report)
    head = sanitizer.value({"config": config, "config_problem": config_problem})
    skipped = sanitizer.value([{"file": n, "reason": r} for n, r in export.skipped])
    export.redactions = +Counter(sanitizer.counts)  # only kinds that were replaced
    bundle = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "exported_at": iso_z(utc_now()),
        "exported_by": exported_by,
        "config": head["config"],
        "config_problem": head["config_problem"],
        "sessions": docs,
        "crash_reports": reports,
        "skipped_files": skipped,
        "redaction_summary": dict(sorted(export.redactions.items())),
    }
    export.payload = (json.dumps(bundle, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    export.sessions, export.crash_reports = len(docs), len(reports)
    return export


def build_otlp_lines(
    *,
    sessions: Sequence[StoredFile],
    crashes: Sequence[StoredFile],
    invalid: Sequence[InvalidFile],
    home: Path,
) -> Export:
    """One OTLP/JSON ``TracesData`` line per session (the OpenTelemetry file-exporter format)."""
    from otel_local_exporter import OtlpConversionError, Sanitizer, traces_data_line

    sanitizer = Sanitizer()
    export = Export(b"")
    export.skipped.extend((relative_name(f.path, home), f.reason) for f in invalid)
    lines = []
    for stored in sessions:
        name = relative_name(stored.path, home)
        doc = _sanitized(sanitizer, stored.data, name, export)
        if doc is None:
            continue
        try:
            lines.append(traces_data_line(doc))
        except (OtlpConversionError, RecursionError) as exc:
            export.skipped.append((name, f"not convertible to OTLP: {exc}"))
    export.redactions = +Counter(sanitizer.counts)  # only kinds that were replaced
    export.payload = "".join(line + "\n" for line in lines).encode("utf-8")
    export.sessions = len(lines)
    if crashes:
        export.notes.append(
            f"{len(crashes)} crash report(s) and the config are not spans and are "
            "not part of an OTLP export; use --format json to include them"
        )
    return export


def write_private_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` atomically as a file only the user can read (0600).

    The shared atomic write: a reader sees no file or the whole file. Without ``force`` an
    existing file is never replaced, not even one created while we were writing; an existing
    symbolic link at ``path`` is replaced by the file, never written through.
    """
    try:
        atomic_write(path, data, mode=FILE_MODE, overwrite=force)
    except FileExistsError:
        raise TargetExistsError(str(path)) from None


def write_stdout(payload: bytes) -> None:
    """Bytes to standard output as they are (no re-encoding), after any text already there."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        sys.stdout.write(payload.decode("utf-8"))
    else:
        binary.write(payload)
        binary.flush()


def check_target(target: Path, force: bool) -> None:
    """Refuse early, in one line, a target that cannot or must not be written."""
    if target.is_dir():
        raise click.ClickException(f"{target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise click.ClickException(
            f"cannot write {target}: the folder {target.parent} does not exist"
        )
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to replace it")
