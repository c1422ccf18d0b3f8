"""The span attribute names an instrumented installer sets, under their long-standing path.

Their one home is :mod:`.schema`, with the rest of the session format; this module re-exports
them so ``from otel_local_exporter import attributes as attr`` keeps working. The dependency
stays one-way: the installer imports these names; this package never imports the installer.
"""

from __future__ import annotations

from .schema import (
    ARG_PREFIX,
    ERROR_CATEGORIES,
    ERROR_CATEGORY,
    ERROR_SIGNATURE,
    ERROR_TYPE,
    INSTALLER_VERSION,
    PHASE_NAME,
    PHASE_PREFIX,
    RUN_RESULT,
    STEP_BYTES_DOWNLOADED,
    STEP_CHILD_CPU_SECONDS,
    STEP_CHILD_PEAK_RSS_MIB,
    STEP_NAME,
    STEP_SKIP_REASON,
    STEP_STATUS,
    STEP_STATUSES,
    SYSTEM_ACCELERATOR,
    SYSTEM_BUILD_RULE,
    SYSTEM_COMPUTE_CAPABILITY,
    SYSTEM_CUDA_VERSION,
    SYSTEM_DRIVER_MAJOR,
    SYSTEM_GPU_MODEL,
    SYSTEM_KERNEL_TEST,
    SYSTEM_PREFIX,
    SYSTEM_ROCM_VERSION,
    SYSTEM_TORCH_BUILD,
    SYSTEM_TORCH_DEVICE,
    SYSTEM_VRAM_GIB,
)

__all__ = [
    "ARG_PREFIX",
    "ERROR_CATEGORIES",
    "ERROR_CATEGORY",
    "ERROR_SIGNATURE",
    "ERROR_TYPE",
    "INSTALLER_VERSION",
    "PHASE_NAME",
    "PHASE_PREFIX",
    "RUN_RESULT",
    "STEP_BYTES_DOWNLOADED",
    "STEP_CHILD_CPU_SECONDS",
    "STEP_CHILD_PEAK_RSS_MIB",
    "STEP_NAME",
    "STEP_SKIP_REASON",
    "STEP_STATUS",
    "STEP_STATUSES",
    "SYSTEM_ACCELERATOR",
    "SYSTEM_BUILD_RULE",
    "SYSTEM_COMPUTE_CAPABILITY",
    "SYSTEM_CUDA_VERSION",
    "SYSTEM_DRIVER_MAJOR",
    "SYSTEM_GPU_MODEL",
    "SYSTEM_KERNEL_TEST",
    "SYSTEM_PREFIX",
    "SYSTEM_ROCM_VERSION",
    "SYSTEM_TORCH_BUILD",
    "SYSTEM_TORCH_DEVICE",
    "SYSTEM_VRAM_GIB",
]
