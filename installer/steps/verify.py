"""Verify: proof that the installation runs, before gigabytes of models are downloaded.

Two checks, in the target's venv: ``import torch`` and the device it really sees (``cuda``,
``mps`` or ``cpu``), then ComfyUI's own smoke test, ``main.py --quick-test-for-ci`` with the
device flags that fit the machine (``--cpu`` on a CPU machine; the same flags go into the
launch scripts), under a timeout.

A GPU machine whose torch sees no GPU fails as ``system`` with a hint (driver too old for the
CUDA build, or the wrong build, named as it arrived); a ComfyUI that cannot start fails as
``installation`` with the tail of its output, sanitized. A stamp in the venv records what was
verified (the dependency stamp, the checkout's commit, the flags): a later run verifies again
only when one changed.

Only the probe knows which torch build really arrived: an index that carries no local version
tag (PyPI serves ``2.8.0`` for what ``torch.__version__`` calls ``2.8.0+cu128``) passes
python_deps' build check. A CUDA/ROCm torch where the cpu build was chosen still runs (on the
processor), so it is a warning, an event and the truth in ``installer.system.torch_build`` and
the summary, not a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from otel_local_exporter import Sanitizer
from otel_local_exporter import attributes as attr

from ..context import CHECKOUT, CPU, VENV, InstallContext, Step
from ..errors import InstallError, SystemRequirementError
from ..fsutil import write_atomic
from ..hardware import Hardware
from ..launch import device_env
from ..lifecycle.checkout import head_commit
from ..process_group import kill_tree
from ..stack_check import check_stack, longer_timeout
from ..torch_plan import TorchPlan, plan_torch, used_card, working_builds
from .custom_nodes import RECORD_NAME as NODES_RECORD
from .python_deps import STAMP_NAME, venv_dir, venv_python

VERIFIED_NAME = ".dinoair-verified.json"
LOG_NAME = "verify.log"
TORCH_TIMEOUT = 180.0  # seconds for `import torch` (a cold import of a CUDA build takes a while)
TAIL_LINES = 8

_TORCH_PROBE = """\
import json, torch
if torch.cuda.is_available():
    device, count = "cuda", torch.cuda.device_count()
elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    device, count = "mps", 1
elif getattr(torch, "xpu", None) is not None and torch.xpu.is_available():
    device, count = "xpu", torch.xpu.device_count()
else:
    device, count = "cpu", 0
kernel = None
if device != "cpu" and hasattr(torch, "matmul"):
    # A matmul and a conv on the device (fp16 where the card has it), compared with the CPU:
    # a build without kernels for the card imports and "sees" it, and fails only here.
    half = False
    try:
        half = device == "cuda" and tuple(torch.cuda.get_device_capability(0)) >= (5, 3)
        dtype = torch.float16 if half else torch.float32
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(64, 64, generator=gen)
        x, w = torch.randn(1, 3, 16, 16, generator=gen), torch.randn(4, 3, 3, 3, generator=gen)
        want_mm, want_conv = a @ a, torch.nn.functional.conv2d(x, w)
        got_mm = (a.to(device, dtype) @ a.to(device, dtype)).float().cpu()
        got_conv = torch.nn.functional.conv2d(x.to(device, dtype), w.to(device, dtype))
        tol = 0.05 if half else 1e-3
        same = torch.allclose(got_mm, want_mm, rtol=tol, atol=tol * 8) and torch.allclose(
            got_conv.float().cpu(), want_conv, rtol=tol, atol=tol * 8)
        kernel = {"passed": bool(same), "error": None if same else "results differ from the CPU"}
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        kernel = {"passed": False, "error": f"{type(exc).__name__}: {text}"}
    kernel["dtype"] = "float16" if half else "float32"
version = getattr(torch, "version", None)
print("DINOAIR-TORCH " + json.dumps({
    "torch": torch.__version__, "device": device, "device_count": count,
    "cuda": getattr(version, "cuda", None), "hip": getattr(version, "hip", None),
    "kernel": kernel,
}))
"""


def device_flags(ctx: InstallContext) -> list[str]:
    """ComfyUI's flags for this machine: the plan's launch flags (manifest data: ``--lowvram``
    on small cards, ``--fp32-vae`` on GTX 16xx), and ``--cpu`` unless torch is a GPU build."""
    hardware = ctx.hardware or Hardware()
    plan = plan_torch(ctx.manifest, hardware, ctx.options.torch_index)
    flags = list(plan.flags) if plan is not None else []
    on_cpu = hardware.accelerator == "cpu" or (plan is not None and plan.build.accelerator == "cpu")
    if on_cpu and "--cpu" not in flags:
        flags.insert(0, "--cpu")
    return flags


def expected_device(flags: list[str], plan: TorchPlan | None) -> str | None:
    """The device type ComfyUI must report: ``cpu`` under ``--cpu``, else the one the torch
    build was chosen for (ROCm builds report ``cuda``, as torch names them); None: any."""
    if "--cpu" in flags:
        return "cpu"
    if plan is None:
        return None
    return {"nvidia": "cuda", "amd": "cuda", "apple": "mps", "intel": "xpu"}.get(
        plan.build.accelerator
    )


def skip_if(ctx: InstallContext) -> str | None:
    """Nothing to verify when the steps that install it were left out (--skip, --only)."""
    if not venv_python(ctx).exists() or not (ctx.comfyui_dir / "main.py").is_file():
        return "nothing_installed"
    return None


def describe(ctx: InstallContext) -> str:
    if _verified(ctx) is not None and _verified(ctx) == ctx.hand_over("verify", _stamp_key(ctx)):
        return "skip: this venv and checkout were verified already"
    flags = " ".join(device_flags(ctx))
    return (
        "import torch in the venv and see its device, then run ComfyUI's quick test "
        f"(main.py --quick-test-for-ci {flags}), then start ComfyUI and the web GUI (and an "
        "Ollama already under ollama/) and read their answers "
        f"(at most {ctx.options.verify_timeout:.0f} s in all)"
    ).replace("  ", " ")


def run(ctx: InstallContext) -> None:
    # --verify-timeout covers the whole step: the torch probe, the quick test, the stack check.
    deadline = time.monotonic() + ctx.options.verify_timeout
    key = ctx.take_over("verify") or _stamp_key(ctx)
    if key is not None and _verified(ctx) == key:
        arrived = _verified(ctx, "torch_build")  # the truth for this run's telemetry too
        if arrived:
            ctx.system[attr.SYSTEM_TORCH_BUILD] = arrived
        ctx.skip("already_verified", "nothing changed in the venv or the checkout since")
    hardware = ctx.hardware or Hardware()
    plan = plan_torch(ctx.manifest, hardware, ctx.options.torch_index)
    outcome: dict[str, object] = {}
    ctx.outcomes["verify"] = outcome
    if plan is not None:
        seen = _probe_torch(ctx, deadline)
        outcome.update(seen)
        ctx.system[attr.SYSTEM_TORCH_DEVICE] = str(seen["device"])
        ctx.event("torch_checked", **{k: v for k, v in seen.items() if v is not None})
        ctx.echo(f"  torch {seen['torch']} sees device {seen['device']}")
        arrived = _record_build(ctx, plan, seen)
        card = used_card(hardware, plan)  # the card ComfyUI uses (--cuda-device), named as such
        _check_device(card, plan, arrived, seen)
        kernel = seen.get("kernel")
        if isinstance(kernel, dict):
            ctx.system[attr.SYSTEM_KERNEL_TEST] = bool(kernel.get("passed"))
            ctx.event("kernel_tested", passed=bool(kernel.get("passed")))
            check_kernels(ctx, card, arrived, kernel)
            device, dtype = seen["device"], kernel.get("dtype")
            where = f"{device} ({dtype})"
            if card.gpu_model:
                where = f"the {card.gpu_model} ({device}, {dtype})"
            ctx.echo(f"  a matmul and a conv ran on {where}")
    flags = device_flags(ctx)
    seconds = _quick_test(ctx, flags, deadline)
    outcome.update({"quick_test": "passed", "quick_test_seconds": seconds, "flags": flags})
    ctx.event("quick_test_passed", seconds=seconds, flags=" ".join(flags))
    seen = check_stack(ctx, venv_python(ctx), flags, deadline, device=expected_device(flags, plan))
    outcome["stack"] = seen
    answered = [f"ComfyUI on {seen['comfyui_device']}"]
    answered += ["the web GUI"] if "webgui" in seen else []
    answered += ["the Ollama under ollama/"] if "ollama" in seen else []
    ctx.echo(f"  started and answered: {', '.join(answered)}")
    if key is not None:
        stamp = {"key": key, "torch_build": outcome.get("torch_build")}
        write_atomic(venv_dir(ctx) / VERIFIED_NAME, json.dumps(stamp))


def _probe_torch(ctx: InstallContext, deadline: float) -> dict[str, object]:
    left = max(deadline - time.monotonic(), 1.0)
    timeout = min(TORCH_TIMEOUT, left)
    code, output = _run_logged(
        ctx,
        [str(venv_python(ctx)), "-c", _TORCH_PROBE],
        timeout,
        "import torch",
        env=device_env(device_flags(ctx)),  # the card ComfyUI will use is the one tested
    )
    if code is None:  # it never answered: the machine (a slow or busy disk), as docs/stack.md
        capped = timeout == TORCH_TIMEOUT
        within = f"{TORCH_TIMEOUT:.0f} s" if capped else _budget(ctx)
        more = (
            f"verify allows it {TORCH_TIMEOUT:.0f} s whatever --verify-timeout says: re-run "
            "when the disk is less busy"
            if capped
            else longer_timeout(ctx.options.verify_timeout)
        )
        raise SystemRequirementError(
            f"import torch did not finish within {within}: {_tail(output)}",
            hint=f"its output is in {ctx.logs_dir / LOG_NAME}; the first import after an "
            f"install reads several GB: {more}",
        )
    for line in output.splitlines():
        if line.startswith("DINOAIR-TORCH "):
            with contextlib.suppress(ValueError):
                return json.loads(line[len("DINOAIR-TORCH ") :])
    raise InstallError(
        f"torch cannot be imported in the venv (exit code {code}): {_tail(output)}",
        hint=f"see {ctx.logs_dir / LOG_NAME}; delete the venv folder and re-run to install it "
        "again",
    )


def _arrived_build(seen: dict, chosen: str, chosen_for: str) -> str:
    """The build tag of the torch the probe imported: its local version tag (``cu128``), else
    what it was compiled for (``torch.version.cuda``/``hip``), else the CPU build (which is
    also the MPS build on a Mac: the same wheel)."""
    tag = str(seen.get("torch") or "").partition("+")[2]
    if tag:
        return tag
    if seen.get("cuda"):
        return "cu" + "".join(str(seen["cuda"]).split(".")[:2])
    if seen.get("hip"):
        return "rocm" + ".".join(str(seen["hip"]).split(".")[:2])
    return chosen if chosen_for in ("cpu", "apple") else "cpu"


def _index_named(plan: TorchPlan) -> str:
    return f"{plan.index} (--torch-index)" if plan.index_overridden else plan.index


def _record_build(ctx: InstallContext, plan: TorchPlan, seen: dict) -> str:
    """Record the build that arrived (system attribute, outcomes); warn when a CUDA/ROCm torch
    arrived where the cpu build was chosen. Returns the build tag seen."""
    chosen, chosen_for = plan.build.name, plan.build.accelerator
    arrived = _arrived_build(seen, chosen, chosen_for)
    ctx.system[attr.SYSTEM_TORCH_BUILD] = arrived
    ctx.outcomes["verify"].update(torch_build=arrived, torch_build_chosen=chosen)
    deps = ctx.outcomes.get("python_deps")
    if isinstance(deps, dict) and deps.get("torch_build"):
        deps["torch_build"] = arrived  # what python_deps installed, as torch itself reports it
    if arrived != chosen and chosen_for == "cpu" and arrived != "cpu":
        ctx.event("torch_build_mismatch", chosen_build=chosen, seen_build=arrived)
        ctx.echo(
            f"  warning: the {chosen} torch build was chosen but {arrived} arrived "
            f"(torch {seen.get('torch')}): the torch index {_index_named(plan)} served a "
            "different build; it runs on the processor, with several GB of GPU libraries that "
            "cannot be used here"
        )
    return arrived


def _check_device(hardware: Hardware, plan: TorchPlan, arrived: str, seen: dict) -> None:
    build_for, build = plan.build.accelerator, plan.build.name
    if hardware.accelerator not in ("nvidia", "amd", "apple") or build_for != hardware.accelerator:
        return
    wanted = {"nvidia": "cuda", "amd": "cuda", "apple": "mps"}[hardware.accelerator]
    if seen.get("device") == wanted:
        return
    gpu = hardware.gpu_model or hardware.accelerator
    if arrived != build and hardware.accelerator != "apple":
        hint = (
            f"torch {seen.get('torch')} is the {arrived} build, not the {build} build chosen "
            f"for this GPU: the torch index {_index_named(plan)} served a different build; point "
            "--torch-index at an index that serves the chosen build, delete the venv folder "
            "and re-run (or --gpu cpu to run on the processor)"
        )
    elif hardware.accelerator == "nvidia":
        hint = (
            f"the driver supports CUDA {hardware.cuda_version or 'unknown'} and torch was built "
            f"for CUDA {seen.get('cuda') or build}: update the NVIDIA driver, or re-run with "
            "--cuda-version matching the driver (or --gpu cpu to run on the processor)"
        )
    elif hardware.accelerator == "amd":
        hint = (
            f"torch {build} does not see the GPU: check the ROCm driver (rocminfo) and that your "
            "user may use /dev/kfd, or re-run with --rocm-version or --gpu cpu"
        )
    else:
        hint = "update macOS (MPS needs 12.3 or newer) or re-run with --gpu cpu"
    raise SystemRequirementError(
        f"torch {seen.get('torch')} sees no GPU ({seen.get('device')}) although this machine "
        f"has {gpu}",
        hint=hint,
    )


def check_kernels(ctx: InstallContext, hardware: Hardware, arrived: str, kernel: dict) -> None:
    """A failed kernel test (``no kernel image``, a wrong result) is a ``system`` failure naming
    the card, its compute capability, the build that arrived and the build that would work.
    ``hardware`` is the card the test ran on (:func:`~installer.torch_plan.used_card`)."""
    if kernel.get("passed"):
        return
    card = hardware.gpu_model or hardware.accelerator
    if hardware.compute_capability:
        card += f" (compute {hardware.compute_capability})"
    elif hardware.gfx_target:
        card += f" ({hardware.gfx_target})"
    works = [name for name in working_builds(ctx.manifest, hardware) if name != arrived]
    instead = (
        f"the {works[0]} build would work: delete the venv folder and re-run "
        f"(or --cuda-version/--rocm-version for it)"
        if works
        else "no torch build in the manifest runs on this card: re-run with --gpu cpu"
    )
    raise SystemRequirementError(
        f"torch {arrived} cannot run on the {card}: {kernel.get('error')}", hint=instead
    )


def _budget(ctx: InstallContext) -> str:
    return f"{ctx.options.verify_timeout:.0f} s (--verify-timeout, for the whole step)"


def _quick_test(ctx: InstallContext, flags: list[str], deadline: float) -> float:
    timeout = max(deadline - time.monotonic(), 1.0)
    started = time.monotonic()
    cmd = [str(venv_python(ctx)), "main.py", "--quick-test-for-ci", *flags]
    code, output = _run_logged(
        ctx, cmd, timeout, "ComfyUI quick test", cwd=ctx.comfyui_dir, env=device_env(flags)
    )
    seconds = round(time.monotonic() - started, 3)
    if code is None:  # a part that never answers is the machine's (docs/stack.md): system
        raise SystemRequirementError(
            f"ComfyUI's quick test did not finish within {_budget(ctx)}: {_tail(output)}",
            hint=f"the quick test's output is in {ctx.logs_dir / LOG_NAME}; "
            f"{longer_timeout(ctx.options.verify_timeout)}",
        )
    if code != 0:
        raise InstallError(
            f"ComfyUI cannot start (quick test exit code {code}): {_tail(output)}",
            hint=f"see {ctx.logs_dir / LOG_NAME}; delete the venv folder and re-run to "
            "reinstall the dependencies",
        )
    return seconds


def _run_logged(
    ctx: InstallContext,
    cmd: list[str],
    timeout: float,
    what: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int | None, str]:
    """Run with a timeout (the whole process group is killed then): exit code or None, output."""
    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=os.name != "nt",
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, _ = proc.communicate()
        code = None
    except BaseException:
        _kill(proc)
        proc.wait()
        raise
    output = out.decode(errors="replace")
    with (ctx.logs_dir / LOG_NAME).open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}  ({what})\n{output}\n")
    return code, output


def _kill(proc: subprocess.Popen) -> None:
    kill_tree(proc, windows=os.name == "nt")  # on Windows the venv launcher's child too


def _tail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return Sanitizer().text(" | ".join(lines[-TAIL_LINES:]) or "(no output)")


def _stamp_key(ctx: InstallContext) -> str | None:
    """What a verification vouches for: the installed dependencies, the commit, the flags."""
    try:
        deps = (venv_dir(ctx) / STAMP_NAME).read_bytes()
    except OSError:
        return None
    head = head_commit(ctx.comfyui_dir)  # plain git: a re-run never imports GitPython
    if head is None:
        return None
    parts = [hashlib.sha256(deps).hexdigest(), head, device_flags(ctx)]
    with contextlib.suppress(OSError):  # the custom nodes' requirements, when installed
        parts.append(hashlib.sha256((venv_dir(ctx) / NODES_RECORD).read_bytes()).hexdigest())
    key = json.dumps(parts)
    return hashlib.sha256(key.encode()).hexdigest()


def _verified(ctx: InstallContext, field: str = "key") -> str | None:
    """A field of the stamp: the key it vouches for, or the torch build that arrived."""
    try:
        data = json.loads((venv_dir(ctx) / VERIFIED_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


STEP = Step(
    name="verify",
    run=run,
    describe=describe,
    skip_if=skip_if,
    needs=("python_deps", "custom_nodes"),  # the stack with the nodes' requirements
    uses=frozenset({CPU, VENV, CHECKOUT}),
)
