"""``python3 -m frontdoor uv``: print a uv binary (on PATH, or the locked wheel's, fetched).

``make setup`` uses it on a machine whose Python has no ``venv`` module.
"""

from __future__ import annotations

import shutil
import sys

from . import lock
from .env import location
from .errors import FrontDoorError
from .index import settings
from .uvwheel import ensure


def main(argv: list[str]) -> int:
    if argv != ["uv"]:
        print("usage: python3 -m frontdoor uv", file=sys.stderr)
        return 2
    try:
        home = location().parent
        say = lambda message: print(message, file=sys.stderr)  # noqa: E731
        print(shutil.which("uv") or ensure(lock.pins()["uv"], settings(), home, say))
    except FrontDoorError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
