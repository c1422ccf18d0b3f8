"""One module per ``dinoair-telemetry`` command, each defining ``command`` and its own view.

``telemetry_cli.cli.COMMANDS`` maps command names to these modules; a module is imported only
when its command runs. Shared options and output helpers are in ``_shared``.
"""
