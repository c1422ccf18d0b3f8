"""The release a lifecycle span names, coarse enough to be no one's: a ref from the user's own
``--manifest`` can be a branch they named (after themselves, a client, a project), so only a
ref shaped like a release tag is recorded; anything else is ``custom``. The per-release rates of
``report`` need no more than the releases DinoAir ships, which are tags."""

from __future__ import annotations

import re

CUSTOM = "custom"
_TAG = re.compile(r"v?\d{1,4}(\.\d{1,4}){1,3}([.-](rc|alpha|beta|a|b|post|dev|demo)\.?\d{0,4})?")


def release_label(ref: str) -> str:
    """``v0.3.64`` stays ``v0.3.64``; ``alice-fix`` and a commit id become ``custom``."""
    return ref if _TAG.fullmatch(ref) else CUSTOM
