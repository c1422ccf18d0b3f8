"""Span attribute names shared by an instrumented installer and this package.

The exporter derives the session's human-readable ``events`` from spans, so the installer and the
exporter must agree on a few names. They live here, in the reusable core, so the dependency stays
one-way: the installer imports them; this package never imports the installer.
"""

from __future__ import annotations

# Root span.
INSTALLER_VERSION = "installer.version"
RUN_RESULT = "installer.result"  # "success" | "failed" | "cancelled"
ARG_PREFIX = "installer.arg."  # one attribute per chosen argument (usage analytics)
SYSTEM_PREFIX = "installer.system."  # hardware profile: cpu count, memory GiB (usage analytics)

# Step spans.
STEP_NAME = "installer.step"
STEP_STATUS = "installer.step.status"  # completed | skipped | failed | cancelled
STEP_SKIP_REASON = "installer.step.skip_reason"
STEP_BYTES_DOWNLOADED = "installer.step.bytes_downloaded"
STEP_CHILD_CPU_SECONDS = "installer.step.child_cpu_seconds"
STEP_CHILD_PEAK_RSS_MIB = "installer.step.child_peak_rss_mib"

# Errors (DESIGN section 8). ``error.type`` is the semantic-convention name.
ERROR_CATEGORY = "installer.error.category"
ERROR_TYPE = "error.type"
ERROR_CATEGORIES = ("installation", "network", "system", "configuration", "unexpected", "cancelled")

STEP_STATUSES = ("completed", "skipped", "failed", "cancelled")

# Hardware and torch (usage analytics, coarse only: never a GPU UUID, serial, PCI bus id or VBIOS).
SYSTEM_ACCELERATOR = f"{SYSTEM_PREFIX}accelerator"  # nvidia | amd | apple | cpu
SYSTEM_GPU_MODEL = f"{SYSTEM_PREFIX}gpu_model"
SYSTEM_VRAM_GIB = f"{SYSTEM_PREFIX}vram_gib"
SYSTEM_DRIVER_MAJOR = f"{SYSTEM_PREFIX}driver_major"
SYSTEM_CUDA_VERSION = f"{SYSTEM_PREFIX}cuda_version"
SYSTEM_ROCM_VERSION = f"{SYSTEM_PREFIX}rocm_version"
SYSTEM_TORCH_BUILD = f"{SYSTEM_PREFIX}torch_build"
SYSTEM_TORCH_DEVICE = f"{SYSTEM_PREFIX}torch_device"
