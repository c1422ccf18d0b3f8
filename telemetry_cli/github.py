"""The GitHub REST API, as ``report-issue --submit`` needs it: search, comment, create.

Only the standard library (``urllib``). The token comes from ``GH_TOKEN``, ``GITHUB_TOKEN`` or
``gh auth token``, the API's base URL from ``GITHUB_API_URL`` (GitHub Enterprise), as GitHub's
own tools read them. Every failure becomes :class:`GitHubError` with one line a person can act
on: a rate limit, 401, 403, 404, 422, or the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["GitHub", "GitHubError", "Match", "find_token", "repo_of"]

API_ENV = "GITHUB_API_URL"
DEFAULT_API = "https://api.github.com"
TIMEOUT = 15.0
SIGNATURE_MARK = "dinoair-signature"  # the HTML comment later searches find: <!-- mark: sig -->


class GitHubError(Exception):
    """One line: what went wrong and what to do."""


@dataclass(frozen=True)
class Match:
    number: int
    title: str
    state: str
    url: str


def find_token() -> str | None:
    """``GH_TOKEN``, ``GITHUB_TOKEN``, else what ``gh auth token`` prints (when gh is there)."""
    for name in ("GH_TOKEN", "GITHUB_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    gh = shutil.which("gh")
    if gh is None:
        return None
    try:
        done = subprocess.run(
            [gh, "auth", "token"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    token = done.stdout.strip()
    return token if done.returncode == 0 and token else None


def repo_of(tracker: str) -> str:
    """``owner/name`` of a repository URL (``https://github.com/owner/name[.git]``)."""
    path = urllib.parse.urlsplit(tracker).path.strip("/").removesuffix(".git")
    parts = path.split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise GitHubError(f"{tracker} does not name a repository (https://host/owner/name)")
    return f"{parts[0]}/{parts[1]}"


class GitHub:
    def __init__(self, token: str, repo: str, api: str | None = None) -> None:
        self.token = token
        self.repo = repo
        self.api = (api or os.environ.get(API_ENV) or DEFAULT_API).rstrip("/")

    def search(self, signature: str) -> list[Match]:
        """Issues of the repository whose body carries ``signature`` (open ones first)."""
        query = f'repo:{self.repo} is:issue "{signature}" in:body'
        data = self._call("GET", "/search/issues?" + urllib.parse.urlencode({"q": query}))
        items = data.get("items") if isinstance(data, dict) else None
        found = [
            Match(int(i["number"]), str(i.get("title", "")), str(i.get("state", "")),
                  str(i.get("html_url", "")))
            for i in items or []
            if isinstance(i, dict) and isinstance(i.get("number"), int)
        ]  # fmt: skip
        return sorted(found, key=lambda m: (m.state != "open", m.number))

    def create(self, title: str, body: str) -> str:
        data = self._call("POST", f"/repos/{self.repo}/issues", {"title": title, "body": body})
        return str(data.get("html_url", "")) if isinstance(data, dict) else ""

    def comment(self, number: int, body: str) -> str:
        data = self._call("POST", f"/repos/{self.repo}/issues/{number}/comments", {"body": body})
        return str(data.get("html_url", "")) if isinstance(data, dict) else ""

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode("utf-8") if payload is not None else None
        request = urllib.request.Request(
            self.api + path,
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "dinoair-telemetry",
                **({"Content-Type": "application/json"} if data is not None else {}),
            },
        )
        host = urllib.parse.urlsplit(self.api).netloc
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise GitHubError(_http_problem(exc, self.repo)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"could not reach {host} ({reason}); check the network") from None
        except ValueError:
            raise GitHubError(f"{host} answered something that is not JSON") from None


def _http_problem(exc: urllib.error.HTTPError, repo: str) -> str:
    headers = exc.headers
    if exc.code in (403, 429) and (headers.get("X-RateLimit-Remaining") == "0" or exc.code == 429):
        reset = headers.get("X-RateLimit-Reset")
        when = ""
        if reset and reset.isdigit():
            at = datetime.fromtimestamp(int(reset), tz=timezone.utc)
            when = f" at {at:%H:%M} UTC"
        return f"GitHub's rate limit is reached; try again{when}"
    if exc.code == 401:
        return (
            "GitHub refused the token (401): check GH_TOKEN / GITHUB_TOKEN or run 'gh auth login'"
        )
    if exc.code == 403:
        return f"the token may not write issues in {repo} (403): it needs the issues permission"
    if exc.code == 404:
        return f"{repo} was not found (404), or the token cannot see it"
    if exc.code == 422:
        try:
            message = json.loads(exc.read()).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        return f"GitHub rejected the request (422){': ' + message if message else ''}"
    return f"GitHub answered HTTP {exc.code}"
