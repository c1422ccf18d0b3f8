"""report-issue --submit against a fake GitHub API on 127.0.0.1: search first, comment on a
match, create with the user's word, and one clear line (and a saved draft) for each refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from installer.context import InstallContext, Options, Step
from installer.manifest import load_manifest
from installer.runner import run_install
from otel_local_exporter import TelemetryConfig, configure_tracing, resolve_consent
from telemetry_cli.cli import cli
from tests.github_server import FakeGitHub

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "installer" / "data" / "manifest.json"
TRACKER = "https://github.com/o/r"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GH_TOKEN", "test-token-123")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    yield fake
    fake.close()


@pytest.fixture
def failed(dinoair_home: Path, tmp_path: Path) -> str:
    """A real failed run's session in the home; returns its failure signature."""
    config = TelemetryConfig.load(dinoair_home)
    config.enable()
    config.save()
    provider = configure_tracing(
        "1.0", home=dinoair_home, decision=resolve_consent(home=dinoair_home)
    )

    def boom(ctx: InstallContext) -> None:
        raise OSError("No space left on device")

    ctx = InstallContext(
        options=Options(target=tmp_path / "t"),
        manifest=load_manifest(MANIFEST),
        echo=lambda s: None,
    )
    result = run_install(
        (Step("models", run=boom, describe=lambda c: "x"),), ctx, provider.get_tracer("t")
    )
    provider.shutdown()
    signature = result.steps[0].signature
    assert signature
    return signature


def _submit(*args: str, input: str | None = None):
    return CliRunner().invoke(
        cli, ["report-issue", "--submit", "--repo", TRACKER, *args], input=input
    )


def test_no_match_creates_the_issue_with_the_signature_in_its_body(
    github: FakeGitHub, failed: str
) -> None:
    result = _submit("--yes")
    assert result.exit_code == 0, result.output
    methods = [(r["method"], r["path"].split("?")[0]) for r in github.requests]
    assert methods == [("GET", "/search/issues"), ("POST", "/repos/o/r/issues")]
    assert failed in github.requests[0]["path"], "the search is for the signature"
    created = github.requests[1]["json"]
    assert f"<!-- dinoair-signature: {failed} -->" in created["body"]
    assert github.requests[1]["headers"]["Authorization"] == "Bearer test-token-123"
    assert "Opened https://github.test/o/r/issues/100" in result.output


def test_a_matching_open_issue_gets_a_comment_instead_of_a_duplicate(
    github: FakeGitHub, failed: str
) -> None:
    github.issues.append({"number": 7, "title": "disk", "state": "open", "body": f"x {failed}"})
    result = _submit("--yes")
    assert result.exit_code == 0, result.output
    assert "#7 [open] disk" in result.output and "Commented on #7" in result.output
    assert [r["method"] for r in github.requests] == ["GET", "POST"]
    assert github.requests[1]["path"] == "/repos/o/r/issues/7/comments"


def test_it_asks_before_posting_and_a_no_sends_nothing(github: FakeGitHub, failed: str) -> None:
    # CliRunner's stdin is not a terminal: --yes is required, and nothing at all is sent.
    result = _submit()
    assert result.exit_code == 1 and "pass --yes" in result.output
    assert github.requests == []


@pytest.mark.parametrize(
    ("status", "headers", "needle"),
    [
        (401, {}, "GitHub refused the token (401)"),
        (403, {}, "may not write issues in o/r (403)"),
        (404, {}, "o/r was not found (404)"),
        (422, {}, "GitHub rejected the request (422): Validation Failed"),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4102444800"}, "rate limit"),
    ],
)
def test_each_refusal_is_one_line_and_the_draft_is_saved(
    github: FakeGitHub, failed: str, dinoair_home: Path, status: int, headers: dict, needle: str
) -> None:
    github.fail = (status, headers, {"message": "Validation Failed"})
    result = _submit("--yes")
    assert result.exit_code == 1
    assert needle in result.output and "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    drafts = list((dinoair_home / "drafts").glob("*.md"))
    assert drafts and failed in drafts[0].read_text()
    assert str(drafts[0]) in result.output


def test_the_network_failing_is_one_line(
    github: FakeGitHub, failed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = FakeGitHub()
    closed.close()
    monkeypatch.setenv("GITHUB_API_URL", closed.url)
    result = _submit("--yes")
    assert result.exit_code == 1 and "could not reach 127.0.0.1" in result.output


def test_without_a_token_it_says_how_and_prints_the_link(
    github: FakeGitHub, failed: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GH_TOKEN")
    monkeypatch.setenv("PATH", str(tmp_path))  # no gh either
    result = _submit("--yes")
    assert result.exit_code == 0, result.output
    assert "No GitHub token: set GH_TOKEN" in result.output
    assert "https://github.com/o/r/issues/new?" in result.output
    assert github.requests == []


def test_gh_auth_token_is_used_when_no_variable_is_set(
    github: FakeGitHub, failed: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gh = tmp_path / "gh"
    gh.write_text("#!/bin/sh\necho gho_fromgh\n")
    gh.chmod(0o755)
    monkeypatch.delenv("GH_TOKEN")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    result = _submit("--yes")
    assert result.exit_code == 0, result.output
    assert github.requests[0]["headers"]["Authorization"] == "Bearer gho_fromgh"


def test_clear_data_removes_the_saved_drafts(
    github: FakeGitHub, failed: str, dinoair_home: Path
) -> None:
    """A draft holds the failure's text: it is the user's data like a session, and goes with it."""
    github.fail = (422, {}, {"message": "Validation Failed"})
    assert _submit("--yes").exit_code == 1
    assert list((dinoair_home / "drafts").glob("*.md"))
    result = CliRunner().invoke(cli, ["clear-data", "--yes"])
    assert result.exit_code == 0, result.output
    assert not list((dinoair_home / "drafts").glob("*.md"))
