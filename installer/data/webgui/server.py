"""DinoAir web GUI, served by Python's standard library: public/ and a small /api/config.

The bundled GUI needs no Node.js: the page is static and talks to ComfyUI and Ollama directly on
the loopback interface, so any Python (the install's venv) serves it. It keeps server.js's
contract: HOST and PORT (default 127.0.0.1:3000, or --host/--port) choose where it listens;
DINOAIR_MODEL or config.json (written by the installer) chooses the Ollama model;
DINOAIR_COMFYUI_URL and DINOAIR_OLLAMA_URL tell the page where the others listen (start.py sets
them when it moves a port); the same security headers. It runs from the install folder as a
plain script, so it imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
PUBLIC_DIR = HERE / "public"
CONFIG_FILE = HERE / "config.json"
DEFAULTS = {
    "model": "llama3.2",
    "comfyuiUrl": "http://127.0.0.1:8188",
    "ollamaUrl": "http://127.0.0.1:11434",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
TEXT = "text/plain; charset=utf-8"


def load_config() -> dict[str, str]:
    """config.json over the defaults, the environment over both; read per request, as server.js."""
    config = dict(DEFAULTS)
    try:
        saved = json.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}  # no config.json (or an unreadable one): the defaults still give a working page
    if isinstance(saved, dict):
        config.update({k: v for k, v in saved.items() if isinstance(v, str)})
    for key, env in (
        ("model", "DINOAIR_MODEL"),
        ("comfyuiUrl", "DINOAIR_COMFYUI_URL"),
        ("ollamaUrl", "DINOAIR_OLLAMA_URL"),
    ):
        if os.environ.get(env):
            config[key] = os.environ[env]
    return config


class Handler(BaseHTTPRequestHandler):
    server_version = "DinoAir"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _not_allowed(self) -> None:
        self._send(405, TEXT, b"method not allowed\n", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the launcher's terminal shows the URLs, not one line per request."""

    def _send(self, status: int, kind: str, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self) -> None:
        config = load_config()
        path = urlsplit(self.path).path
        if path == "/api/config":
            self._send(200, TYPES[".json"], json.dumps(config).encode(), {})
            return
        relative = unquote(path if path != "/" else "/index.html").lstrip("/")
        file = (PUBLIC_DIR / relative).resolve()
        if PUBLIC_DIR not in file.parents or not file.is_file():
            self._send(404, TEXT, b"not found\n", {})
            return
        try:
            body = file.read_bytes()
        except OSError:
            self._send(404, TEXT, b"not found\n", {})
            return
        csp = (
            f"default-src 'self'; connect-src 'self' {config['ollamaUrl']}; "
            "style-src 'self' 'unsafe-inline'"
        )
        kind = TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
        self._send(
            200,
            kind or "application/octet-stream",
            body,
            {"Content-Security-Policy": csp, "Cache-Control": "no-cache"},
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the DinoAir web GUI.")
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    args = parser.parse_args(argv)
    try:
        server = ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as exc:
        print(
            f"DinoAir web GUI cannot listen on {args.host}:{args.port}: "
            f"{exc.strerror or exc} (choose another port with --gui-port)",
            file=sys.stderr,
        )
        return 1
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"DinoAir web GUI: http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
