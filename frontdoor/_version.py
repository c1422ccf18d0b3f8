"""Which Pythons the front door runs on, in syntax every Python 3 parses.

``install.py`` imports this before anything else, so an old Python gets one clear line instead of
a ``SyntaxError`` from code it cannot read. Keep it free of f-strings and annotations.
"""

MINIMUM = (3, 10)


def too_old(version_info):
    """The one line to print for a Python older than ``MINIMUM``, or ``None`` when it will do."""
    if tuple(version_info[:2]) >= MINIMUM:
        return None
    found = ".".join(str(part) for part in version_info[:3])
    needed = "%d.%d" % MINIMUM  # noqa: UP031 (no f-strings: see above)
    return (
        "error: DinoAir's installer needs Python "
        + needed
        + " or newer; this is Python "
        + found
        + ". Install a newer one (python.org, `apt install python3.11`, "
        "`brew install python@3.12`, or `uv python install 3.12`) and run it: python3.12 install.py"
    )
