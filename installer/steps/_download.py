"""The downloader as steps use it: the run's options, progress on a terminal, events and bytes
into the step's span. One home, so the checkpoint and Ollama downloads cannot drift apart.

Progress goes to the step's live line when the runner draws one (``ctx.live``), else to tqdm
bars on stderr when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..context import InstallContext
from ..download import DownloadResult, DownloadSpec, download_all


def download(
    ctx: InstallContext, specs: Sequence[DownloadSpec], *, jobs: int
) -> list[DownloadResult]:
    return download_all(
        specs,
        jobs=jobs,
        connections=ctx.options.connections,
        timeout=ctx.options.timeout,
        retries=ctx.options.retries,
        progress=sys.stderr.isatty() and not ctx.live,
        on_progress=(lambda done, total: ctx.progress(done=done, total=total))
        if ctx.live
        else None,
        on_event=lambda name, attrs: ctx.event(name, **attrs),
        on_bytes=ctx.add_bytes,
    )
