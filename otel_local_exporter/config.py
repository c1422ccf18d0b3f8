"""The user's telemetry choice: ``telemetry_config.json``, the kill switches, and consent.

Consent is resolved in the order DESIGN section 5 fixes: environment kill switches, then the
run's own ``--disable-telemetry``, then the saved file, where a missing or undecided choice means
*off*. A file that cannot be trusted (not JSON, not an object, a wrong type, a folder, a link)
also means *off*; :attr:`TelemetryConfig.problem` says why, and saving over it first keeps the bad
file beside it as ``telemetry_config.json.invalid-<ts>`` so nothing the user wrote is lost.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._fileio import atomic_write, ensure_private_dir, read_regular_file
from ._time import file_stamp, iso_z, utc_now
from .home import CONFIG_NAME, telemetry_home

_logger = logging.getLogger(__name__)

_MAX_CONFIG_BYTES = 64 * 1024
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

KILL_SWITCHES = ("DINOAIR_DISABLE_TELEMETRY", "DO_NOT_TRACK", "OTEL_SDK_DISABLED")

_BOOL_FIELDS = ("error_reporting_enabled", "usage_analytics_enabled")
# Fields added later, each with its default for a file written before it existed.
_OPT_IN_FIELDS = ("fix_notifications_enabled",)  # off until the user says yes
_TEXT_FIELDS = ("user_id", "install_id", "consent_timestamp", "opt_out_timestamp")
MAX_REDACT_TERMS = 100
MAX_REDACT_TERM_LENGTH = 200
MIN_REDACT_TERM_LENGTH = 2


def kill_switch(environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    """Name the environment variable that switches telemetry off, or ``None``.

    Read at every decision, never cached: a switch set mid-run takes effect at once.
    """
    env = os.environ if environ is None else environ
    value = env.get("DINOAIR_DISABLE_TELEMETRY")
    if value is not None and value.strip().lower() in _TRUE_WORDS:
        return "DINOAIR_DISABLE_TELEMETRY"
    value = env.get("DO_NOT_TRACK")
    if value is not None and value.strip() not in ("", "0"):
        return "DO_NOT_TRACK"
    value = env.get("OTEL_SDK_DISABLED")
    if value is not None and value.strip().lower() == "true":
        return "OTEL_SDK_DISABLED"
    return None


@dataclass
class TelemetryConfig:
    """The saved choice. ``telemetry_enabled=None`` means the user has not decided (off)."""

    path: Path
    telemetry_enabled: bool | None = None
    error_reporting_enabled: bool = True
    usage_analytics_enabled: bool = True
    user_id: str | None = None
    install_id: str | None = None
    consent_timestamp: str | None = None
    opt_out_timestamp: str | None = None
    redact_terms: list[str] = field(default_factory=list)
    """The user's own words to scrub everywhere (an organisation, a code name); never exported."""
    fix_notifications_enabled: bool = False
    consent_notice_version: int | None = None  # the notice agreed to; None: before versions (1)
    exists: bool = False
    problem: str | None = field(default=None, compare=False)

    # -- reading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, home: Path | None = None) -> TelemetryConfig:
        """Read the config under ``home``. Never raises: trouble becomes :attr:`problem`."""
        path = (home or telemetry_home()) / CONFIG_NAME
        config = cls(path=path)
        try:
            raw = read_regular_file(path, _MAX_CONFIG_BYTES)
        except FileNotFoundError:
            return config
        except IsADirectoryError:
            return config._invalid("it is a folder, not a file")
        except OSError as exc:
            if os.path.islink(path):
                return config._invalid("it is a symbolic link")
            if os.path.isdir(path):
                return config._invalid("it is a folder, not a file")
            return config._invalid(f"it cannot be read ({exc.strerror or exc})")
        except ValueError:
            return config._invalid(f"it is larger than {_MAX_CONFIG_BYTES // 1024} KiB")
        config.exists = True
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return config._invalid("it is not UTF-8 text")
        except json.JSONDecodeError as exc:
            return config._invalid(f"it is not valid JSON ({exc.msg} at line {exc.lineno})")
        except (ValueError, RecursionError) as exc:  # e.g. an integer past Python's digit limit
            return config._invalid(f"it is not valid JSON ({type(exc).__name__})")
        problem = config._apply(data)
        return config._invalid(problem) if problem else config

    def _invalid(self, reason: str) -> TelemetryConfig:
        self.problem = f"{self.path.name} is invalid: {reason}"
        self.telemetry_enabled = None
        self.exists = True
        _logger.debug("telemetry config ignored: %s", self.problem)
        return self

    def _apply(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return f"expected a JSON object, found {_json_kind(data)}"
        enabled = data.get("telemetry_enabled")
        if enabled is not None and not isinstance(enabled, bool):
            return f"telemetry_enabled must be true, false or null, not {_json_kind(enabled)}"
        for name in _BOOL_FIELDS:
            value = data.get(name, True)
            if not isinstance(value, bool):
                return f"{name} must be true or false, not {_json_kind(value)}"
        for name in _TEXT_FIELDS:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                return f"{name} must be a string or null, not {_json_kind(value)}"
        terms = data.get("redact_terms", [])
        problem = redact_terms_problem(terms)
        if problem:
            return problem
        for name in _OPT_IN_FIELDS:
            if not isinstance(data.get(name, False), bool):
                return f"{name} must be true or false, not {_json_kind(data[name])}"
        version = data.get("consent_notice_version")
        if version is not None and (type(version) is not int or version < 1):
            return f"consent_notice_version must be a whole number or null, not {version!r:.20}"
        self.telemetry_enabled = enabled
        self.redact_terms = list(terms)
        for name in _BOOL_FIELDS:
            setattr(self, name, data.get(name, True))
        for name in _TEXT_FIELDS:
            setattr(self, name, data.get(name))
        for name in _OPT_IN_FIELDS:
            setattr(self, name, data.get(name, False))
        self.consent_notice_version = version
        return None

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``enabled``, ``disabled``, ``undecided`` or ``invalid``."""
        if self.problem:
            return "invalid"
        if self.telemetry_enabled is None:
            return "undecided"
        return "enabled" if self.telemetry_enabled else "disabled"

    def to_dict(self) -> dict[str, Any]:
        """The documented fields, exactly as saved (``redact_terms`` once there are any)."""
        saved = self.export_view()
        if self.redact_terms:
            saved["redact_terms"] = list(self.redact_terms)
        return saved

    def export_view(self) -> dict[str, Any]:
        """The fields an export may carry: all but ``redact_terms``, which name what to hide."""
        return {
            "telemetry_enabled": self.telemetry_enabled,
            "error_reporting_enabled": self.error_reporting_enabled,
            "usage_analytics_enabled": self.usage_analytics_enabled,
            "user_id": self.user_id,
            "install_id": self.install_id,
            "consent_timestamp": self.consent_timestamp,
            "opt_out_timestamp": self.opt_out_timestamp,
            "fix_notifications_enabled": self.fix_notifications_enabled,
            "consent_notice_version": self.consent_notice_version,
        }

    # -- changing --------------------------------------------------------------------------

    def add_terms(self, terms: list[str]) -> list[str]:
        """Add ``terms`` to :attr:`redact_terms` (case-insensitive duplicates are skipped);
        return those added. Raises ``ValueError`` (one line for the user) on a bad term."""
        added: list[str] = []
        for term in terms:
            problem = redact_term_problem(term)
            if problem:
                raise ValueError(f"{problem}: {term!r}")
            if _term_index([*self.redact_terms, *added], term) == -1:
                added.append(term)
        if len(self.redact_terms) + len(added) > MAX_REDACT_TERMS:
            raise ValueError(f"at most {MAX_REDACT_TERMS} terms are allowed; remove some first")
        self.redact_terms = [*self.redact_terms, *added]
        return added

    def remove_terms(self, terms: list[str]) -> None:
        """Remove ``terms`` (in any case). Raises ``KeyError`` naming the first one not there."""
        kept = list(self.redact_terms)
        for term in terms:
            index = _term_index(kept, term)
            if index == -1:
                raise KeyError(term)
            del kept[index]
        self.redact_terms = kept

    def enable(self, *, error_reporting: bool = True, usage_analytics: bool = True) -> None:
        """Record consent: switches on, a fresh consent time, a random ``user_id`` if none, and
        the version of the notice shown (what was agreed to).

        The id is random (uuid4), never derived from a MAC address or other hardware.
        """
        from .notice import NOTICE_VERSION

        self.consent_notice_version = NOTICE_VERSION
        self.problem = None
        self.telemetry_enabled = True
        self.error_reporting_enabled = error_reporting
        self.usage_analytics_enabled = usage_analytics
        self.user_id = self.user_id or uuid.uuid4().hex
        self.install_id = self.install_id or uuid.uuid4().hex
        self.consent_timestamp = iso_z(utc_now())
        self.opt_out_timestamp = None

    def disable(self) -> None:
        """Record the opt-out: all three switches off and an opt-out time."""
        self.problem = None
        self.telemetry_enabled = False
        self.error_reporting_enabled = False
        self.usage_analytics_enabled = False
        self.fix_notifications_enabled = False
        self.install_id = self.install_id or uuid.uuid4().hex
        self.opt_out_timestamp = iso_z(utc_now())

    def save(self) -> Path | None:
        """Write the config atomically (0600 in a 0700 home).

        A bad file already there is first moved aside as ``<name>.invalid-<ts>``; its path is
        returned so the caller can tell the user. Raises ``OSError`` when the home is unusable.
        """
        ensure_private_dir(self.path.parent)
        kept = None
        if TelemetryConfig.load(self.path.parent).problem:
            kept = self.path.with_name(f"{self.path.name}.invalid-{file_stamp(utc_now())}")
            os.replace(self.path, kept)
        payload = json.dumps(self.to_dict(), indent=2) + "\n"
        atomic_write(self.path, payload.encode("utf-8"))
        self.exists = True
        return kept


def redact_terms_problem(terms: Any) -> str | None:
    """Why ``terms`` cannot be the ``redact_terms`` field, or ``None`` when it can.

    A list of distinct strings of 2 to 200 characters that are not blank, at most 100 of them:
    a one-letter term would shred every word that holds the letter.
    """
    if not isinstance(terms, list):
        return f"redact_terms must be a list of strings, not {_shape(terms)}"
    if len(terms) > MAX_REDACT_TERMS:
        return f"redact_terms holds {len(terms)} terms; at most {MAX_REDACT_TERMS} are allowed"
    for term in terms:
        problem = redact_term_problem(term)
        if problem:
            return f"redact_terms: {problem}"
    return None


def redact_term_problem(term: Any) -> str | None:
    """Why ``term`` cannot be one of the ``redact_terms``, or ``None`` when it can."""
    if not isinstance(term, str):
        return f"a term must be a string, not {_shape(term)}"
    if term != term.strip() or "\n" in term:
        return "a term must not start or end with blanks, nor hold a line break"
    if not MIN_REDACT_TERM_LENGTH <= len(term) <= MAX_REDACT_TERM_LENGTH:
        return f"a term must have {MIN_REDACT_TERM_LENGTH} to {MAX_REDACT_TERM_LENGTH} characters"
    return None


def _term_index(terms: list[str], term: str) -> int:
    """Where ``term`` is in ``terms``, case-insensitively (the rule ignores case), or -1."""
    folded = term.casefold()
    return next((i for i, t in enumerate(terms) if t.casefold() == folded), -1)


def _shape(value: Any) -> str:
    """``_json_kind`` without the text of a string: a problem message must not repeat a term."""
    return "a string" if isinstance(value, str) else _json_kind(value)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:20])}"
    if isinstance(value, (int, float)):
        return "a number"
    kinds: dict[type, str] = {list: "a list", dict: "an object"}
    return kinds.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ConsentDecision:
    """Whether this run may record telemetry, and which source decided (for humans and samplers)."""

    enabled: bool
    source: str  # "env:<NAME>", "run-flag", "config", "config-invalid", "undecided"
    reason: str
    error_reporting: bool = False
    usage_analytics: bool = False
    # The consent notice version agreed to: only what that notice named is recorded. The
    # default is the current notice (a decision made in code, or just now at the prompt).
    notice_version: int | None = None

    @property
    def agreed_notice(self) -> int:
        from .notice import NOTICE_VERSION

        return self.notice_version if self.notice_version is not None else NOTICE_VERSION


def resolve_consent(
    config: TelemetryConfig | None = None, *, run_disabled: bool = False, home: Path | None = None
) -> ConsentDecision:
    """Apply DESIGN section 5's precedence. Reads the environment now, and the file if needed."""
    switch = kill_switch()
    if switch:
        return ConsentDecision(False, f"env:{switch}", f"{switch} is set in the environment")
    if run_disabled:
        return ConsentDecision(False, "run-flag", "--disable-telemetry was given for this run")
    config = config or TelemetryConfig.load(home)
    if config.problem:
        return ConsentDecision(False, "config-invalid", config.problem)
    if config.telemetry_enabled is None:
        return ConsentDecision(False, "undecided", "you have not chosen yet (off until you do)")
    if not config.telemetry_enabled:
        return ConsentDecision(False, "config", "you turned telemetry off")
    return ConsentDecision(
        True,
        "config",
        "you turned telemetry on",
        config.error_reporting_enabled,
        config.usage_analytics_enabled,
        config.consent_notice_version or 1,
    )
