"""The installation steps, in the order they run. Each module exposes one ``STEP``."""

from __future__ import annotations

from ..context import Step
from . import (
    comfyui,
    custom_nodes,
    finalize,
    models,
    ollama_models,
    preflight,
    python_deps,
    verify,
    webgui,
    workflows,
)

STEPS: tuple[Step, ...] = tuple(
    module.STEP
    for module in (
        preflight,
        comfyui,
        python_deps,
        custom_nodes,
        verify,
        workflows,
        ollama_models,
        models,
        webgui,
        finalize,
    )
)
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)

__all__ = ["STEPS", "STEP_NAMES"]
