"""A stub ``uv`` for the front door's tests (the shebang line is added by the test).

``uv venv --python P FOLDER`` makes a real venv without pip (as uv does); ``uv pip install
--python P ...`` writes a ``.pth`` to this test run's site-packages instead of downloading the
locked packages. ``STUB_UV_FAIL=<text>`` fails with that text on stderr, as uv would;
``STUB_UV_HANG=1`` hangs in ``pip install`` (to be killed).
"""

import os
import subprocess
import sys
import sysconfig
import time

args = sys.argv[1:]
if args[:1] == ["venv"]:
    python = args[args.index("--python") + 1]
    subprocess.run([python, "-m", "venv", "--without-pip", args[-1]], check=True)
elif args[:2] == ["pip", "install"]:
    if os.environ.get("STUB_UV_HANG"):
        time.sleep(60)
    if os.environ.get("STUB_UV_FAIL"):
        sys.stderr.write(os.environ["STUB_UV_FAIL"] + "\n")
        sys.exit(2)
    python = args[args.index("--python") + 1]
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with open(os.path.join(site, "stub-uv-deps.pth"), "w") as out:
        out.write(os.environ.get("STUB_UV_SITE", sysconfig.get_path("purelib")) + "\n")
else:
    sys.stderr.write(f"stub uv: unexpected {args}\n")
    sys.exit(2)
