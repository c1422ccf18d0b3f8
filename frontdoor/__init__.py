"""The front door: ``python3 install.py`` and ``python3 telemetry_cli.py`` with only the stdlib.

``handover`` runs the real CLI in the installer's own environment, which ``env`` finds or builds
with uv (on PATH, or the locked wheel ``uvwheel`` fetches) from the hash lock (``lock``), using
the user's index settings (``index``). Nothing here is imported by the real CLI. This file and
``_version`` stay readable by any Python 3, so an old one gets a clear line, not a SyntaxError.
"""
