"""A fake GitHub REST API on 127.0.0.1: search, create, comment, and the ways it says no.

It keeps every request (method, path, headers, JSON body), so a test can check what was sent,
and the privacy suite can scan it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []  # what search finds (title, body, state, number)
        self.fail: tuple[int, dict[str, str], dict[str, Any]] | None = None  # status, headers, body
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(
                self, status: int, body: Any, headers: dict[str, str] | None = None
            ) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "raw": raw.decode("utf-8", "replace"),
                    "json": json.loads(raw) if raw else None,
                }
                fake.requests.append(entry)
                return entry

            def _handle(self) -> None:
                entry = self._record()
                if fake.fail is not None:
                    status, headers, body = fake.fail
                    self._answer(status, body, headers)
                    return
                url = urllib.parse.urlsplit(self.path)
                if self.command == "GET" and url.path == "/search/issues":
                    query = urllib.parse.parse_qs(url.query)["q"][0]
                    wanted = query.split('"')[1] if '"' in query else ""
                    items = [
                        {**i, "html_url": f"https://github.test/o/r/issues/{i['number']}"}
                        for i in fake.issues
                        if wanted and wanted in i["body"]
                    ]
                    self._answer(200, {"total_count": len(items), "items": items})
                elif self.command == "POST" and url.path.endswith("/comments"):
                    number = url.path.split("/")[-2]
                    self._answer(201, {"html_url": f"https://github.test/o/r/issues/{number}#c1"})
                elif self.command == "POST" and url.path.endswith("/issues"):
                    number = 100 + len(fake.issues)
                    body = entry["json"] or {}
                    fake.issues.append({"number": number, "state": "open", **body})
                    self._answer(201, {"html_url": f"https://github.test/o/r/issues/{number}"})
                else:
                    self._answer(404, {"message": "Not Found"})

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def rate_limited(self) -> None:
        reset = str(int(time.time()) + 600)
        self.fail = (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                     {"message": "API rate limit exceeded"})  # fmt: skip

    def sent(self) -> str:
        """Everything the server received, as one text (for scanning)."""
        return "\n".join(
            f"{r['method']} {r['path']}\n{json.dumps(r['headers'])}\n{r['raw']}"
            for r in self.requests
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
