"""Counting what the reliability suite tried and what held, and printing it as a table.

A pytest plugin. Tests ask for the ``trial`` fixture and record each attempt of a case::

    def test_x(trial):
        with trial("kill switch: DO_NOT_TRACK=1"):   # one try; it held unless the block raised
            ...
        trial.record("downloads: server closes mid-stream", held=ok)   # or count by hand
        trial.note("privacy: files under the home", "scanned 12 files, 40 KiB")

At the end of the session the table (case, tried, held, how) is printed in the terminal summary
and written as Markdown to ``build/reliability/table.md``. The section of a case (Faults, Attacks,
Privacy) comes from the test module that recorded it.

It is loaded by ``tests/reliability/conftest.py`` whenever the suite is collected (plain
``pytest`` over ``tests/`` included); ``-p tests.reliability.report`` also works and does not
load it twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TABLE_PATH = Path("build") / "reliability" / "table.md"

SECTIONS = ("Faults", "Attacks", "Privacy")
_SECTION_OF_MODULE = {  # also the order of the rows
    "test_faults": "Faults",
    "test_kills": "Faults",
    "test_concurrency": "Faults",
    "test_downloads": "Faults",
    "test_dependencies": "Faults",
    "test_lifecycle": "Faults",
    "test_stack": "Faults",
    "test_attacks": "Attacks",
    "test_hostile_files": "Attacks",
    "test_privacy": "Privacy",
}


@dataclass
class Case:
    name: str
    section: str
    how: str = ""
    tried: int = 0
    held: int = 0
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    bug: str | None = None  # the xfail reason of a test that proves a known bug
    rank: int = 0  # the recording module's place in _SECTION_OF_MODULE (table order)


class Recorder:
    """Every case, in the order first seen. Thread-safe (tests may count from threads)."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self._lock = threading.Lock()

    def case(self, name: str, section: str, how: str = "", rank: int = 0) -> Case:
        with self._lock:
            case = self.cases.get(name)
            if case is None:
                case = self.cases[name] = Case(name, section, how, rank=rank)
            elif how and not case.how:
                case.how = how
            return case

    def record(
        self, name: str, section: str, *, tried: int = 1, held: int | bool = True, how: str = ""
    ) -> None:
        if isinstance(held, bool):
            held = tried if held else 0
        case = self.case(name, section, how)
        with self._lock:
            case.tried += tried
            case.held += held

    def rows(self) -> list[Case]:
        order = {s: i for i, s in enumerate(SECTIONS)}
        return sorted(self.cases.values(), key=lambda c: (order.get(c.section, len(order)), c.rank))

    def markdown(self) -> str:
        lines = ["| case | tried | held | how |", "|---|---:|---:|---|"]
        section = None
        for case in self.rows():
            if case.section != section:
                section = case.section
                lines.append(f"| **{section}** | | | |")
            how = "; ".join([case.how, *case.notes]) if case.how else "; ".join(case.notes)
            if case.skipped and not case.tried:
                how = f"not run here: {case.skipped}"
            if case.bug:
                how = f"**known bug, test marked xfail**: {case.bug.removeprefix('BUG: ')} ({how})"
            lines.append(f"| {_cell(case.name)} | {case.tried} | {case.held} | {_cell(how)} |")
        tried = sum(c.tried for c in self.cases.values())
        held = sum(c.held for c in self.cases.values())
        cases = len(self.cases)
        whole = sum(c.tried and c.tried == c.held for c in self.cases.values())
        bugs = sum(1 for c in self.cases.values() if c.bug)
        lines.append("")
        lines.append(
            f"{cases} cases, {whole} held every time; {held} of {tried} tries held"
            + (f"; {bugs} known bugs (tests marked xfail until fixed)." if bugs else ".")
        )
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_KEY = pytest.StashKey[Recorder]()


def recorder(config: pytest.Config) -> Recorder:
    if _KEY not in config.stash:
        config.stash[_KEY] = Recorder()
    return config.stash[_KEY]


def _module_name(node: pytest.Item) -> str:
    module = getattr(node, "module", None)
    return (getattr(module, "__name__", "") or "").rsplit(".", 1)[-1]


def section_of(node: pytest.Item) -> str:
    return _SECTION_OF_MODULE.get(_module_name(node), "Faults")


def rank_of(node: pytest.Item) -> int:
    names = list(_SECTION_OF_MODULE)
    name = _module_name(node)
    return names.index(name) if name in names else len(names)


class Trial:
    """What a test records through: one per test, bound to the test's section."""

    def __init__(self, rec: Recorder, section: str, bug: str | None = None, rank: int = 0) -> None:
        self._rec = rec
        self.section = section
        self.bug = bug
        self.rank = rank

    def _case(self, name: str, how: str = "") -> Case:
        case = self._rec.case(name, self.section, how, self.rank)
        if self.bug:
            case.bug = self.bug
        return case

    def __call__(
        self, name: str, *, tried: int | None = None, held: int | bool | None = None, how: str = ""
    ) -> contextlib.AbstractContextManager[None]:
        """``trial(name, tried=1, held=True)`` records now; ``with trial(name):`` counts a try."""
        if tried is not None or held is not None:
            self.record(
                name,
                tried=1 if tried is None else tried,
                held=True if held is None else held,
                how=how,
            )
            return contextlib.nullcontext()
        return self.attempt(name, how=how)

    @contextlib.contextmanager
    def attempt(self, name: str, *, how: str = "") -> Iterator[None]:
        """One try of ``name``: it held if the block finished without an exception."""
        self._case(name, how)
        held = False
        try:
            yield
            held = True
        finally:
            self._rec.record(name, self.section, tried=1, held=held)

    def record(self, name: str, *, tried: int = 1, held: int | bool = True, how: str = "") -> None:
        self._case(name, how)
        self._rec.record(name, self.section, tried=tried, held=held, how=how)

    def declare(self, name: str, how: str = "") -> None:
        """Make the row appear (with its explanation) even before the first try."""
        self._case(name, how)

    def note(self, name: str, text: str) -> None:
        self._case(name).notes.append(text)

    def skipped(self, name: str, reason: str, how: str = "") -> None:
        self._case(name, how).skipped = reason


@pytest.fixture
def trial(request: pytest.FixtureRequest) -> Trial:
    """Record tries and holds of reliability cases (see the module docstring).

    A test marked ``xfail`` proves a known bug: its rows say so, with the marker's reason.
    """
    marker = request.node.get_closest_marker("xfail")
    bug = (str(marker.kwargs.get("reason", "")) or "see the test") if marker else None
    return Trial(recorder(request.config), section_of(request.node), bug, rank_of(request.node))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    rec = recorder(config)
    if not rec.cases:
        return
    table = rec.markdown()
    terminalreporter.section("reliability: what was tried and what held")
    for line in table.splitlines():
        terminalreporter.write_line(line)
    path = config.rootpath / TABLE_PATH
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(table, encoding="utf-8")
    except OSError as exc:
        terminalreporter.write_line(f"(could not write {path}: {exc})")
    else:
        terminalreporter.write_line(f"(written to {path.relative_to(config.rootpath)})")
