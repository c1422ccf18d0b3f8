"""Sanitizer throughput on realistic installer output, against ``json.dumps`` of the same text.

The text is what an installer's error reports and logs are made of: Python tracebacks (POSIX and
Windows paths below a home, ``site-packages`` tails), pip output (URLs, progress bars, "already
satisfied ... in /home/..."), git output (clone progress, commit ids, scp remotes), and now and
then a secret, an e-mail address or an IP. It is generated from a fixed seed, so every run
sanitizes the same bytes. One ``Sanitizer.text`` call on the whole text is timed (the path large
strings take), against ``json.dumps`` of it: the cheapest thing an exporter must do anyway.

A second figure is what one span attribute costs: a run's attribute and event strings (step
names, statuses, versions, error messages with paths, URLs and a token), each sanitized once by
a fresh sanitizer (no cache), in microseconds per string, against ``json.dumps`` of the same
strings. Its target is absolute: a span attribute must cost microseconds, not milliseconds.
"""

from __future__ import annotations

import json
import random

from .harness import Result, fmt_ns, interleave, median

NAME = "sanitizer"
LIMIT = 25.0
ATTRIBUTE_LIMIT_US = 50.0
ATTRIBUTES = (
    "comfyui",
    "completed",
    "python_deps",
    "0.1.0",
    "x86_64",
    "installation",
    "skipped: already installed",
    "installation failed: git clone exited 128",
    "PermissionError: [Errno 13] Permission denied: '/home/alice/DinoAir/models/x.safetensors'",
    "https://huggingface.co/stabilityai/sdxl/resolve/main/sd_xl_base_1.0.safetensors",
    "HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123456789 rejected (401)",
    'os.environ["CIVITAI_API_KEY"] = "c1v1t4iK3y" + attempt',
    "curl -sS -u alice:pw https://civitai.example/api/download/models/4201 exited 22",
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
)
USER, HOME, HOST = "alice", "/home/alice", "alice-laptop"

_PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "safetensors",
    "aiohttp",
    "pyyaml",
    "Pillow",
    "scipy",
    "tqdm",
    "psutil",
    "einops",
    "transformers",
    "tokenizers",
    "sentencepiece",
    "kornia",
    "spandrel",
    "soundfile",
    "av",
    "requests",
    "urllib3",
    "idna",
    "certifi",
)
_MODULES = (
    "git/cmd.py",
    "urllib3/connectionpool.py",
    "requests/adapters.py",
    "pip/_internal/cli/base_command.py",
    "torch/serialization.py",
    "safetensors/torch.py",
    "aiohttp/client.py",
    "http/client.py",
)


def _traceback(r: random.Random) -> str:
    posix = r.random() < 0.75
    frames = []
    for _ in range(r.randint(3, 9)):
        module = r.choice(_MODULES)
        line = r.randint(10, 2400)
        if posix:
            where = (
                f"{HOME}/DinoAir/venv/lib/python3.11/site-packages/{module}"
                if r.random() < 0.7
                else f"{HOME}/DinoAir/ComfyUI/comfy/model_{line}.py"
            )
        else:
            where = (
                f"C:\\Users\\Alice\\DinoAir\\venv\\Lib\\site-packages\\"
                f"{module.replace('/', chr(92))}"
            )
        frames.append(
            f'  File "{where}", line {line}, in call_{r.randint(1, 99)}\n'
            f"    result = self._handle(request, timeout={r.randint(1, 60)})\n"
        )
    error = r.choice(
        (
            "git.exc.GitCommandError: Cmd('git') failed due to: exit code(128)\n"
            f"  cmdline: git clone -v -- https://github.com/comfyanonymous/ComfyUI.git "
            f"{HOME}/DinoAir/ComfyUI\n"
            "  stderr: 'fatal: unable to access 'https://github.com/comfyanonymous/ComfyUI.git/': "
            "Could not resolve host: github.com'",
            "urllib3.exceptions.MaxRetryError: "
            "HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded "
            "with url: /stabilityai/sdxl/resolve/main/sd_xl_base_1.0."
            "safetensors?download=true (Caused by NewConnectionError('<urllib3.connection."
            f"HTTPSConnection object at 0x7f{r.randrange(16**10):010x}>: Failed to establish a new "
            f"connection: [Errno 111] Connection refused'))",
            f"PermissionError: [Errno 13] Permission denied: '{HOME}/DinoAir/models/checkpoints/"
            f"v1-5-pruned-emaonly.safetensors.part'",
            f"OSError: [Errno 28] No space left on device: '/tmp/pip-install-{r.randrange(10**8)}'",
            f"requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: "
            f"https://huggingface.co/api/models?token=hf_{r.randrange(16**30):030x}",
            f"RuntimeError: CUDA out of memory. Tried to allocate {r.randint(1, 20)}.00 GiB "
            f"(GPU 0; 7.79 GiB total capacity; user {USER} on {HOST})",
        )
    )
    return "Traceback (most recent call last):\n" + "".join(frames) + error + "\n"


def _pip(r: random.Random) -> str:
    out = []
    for _ in range(r.randint(4, 14)):
        pkg = r.choice(_PACKAGES)
        version = f"{r.randint(0, 3)}.{r.randint(0, 30)}.{r.randint(0, 12)}"
        if r.random() < 0.5:
            out.append(
                f"Requirement already satisfied: {pkg}>={version} in {HOME}/DinoAir/venv/"
                f"lib/python3.11/site-packages (from -r requirements.txt (line "
                f"{r.randint(1, 30)})) ({version})\n"
            )
        else:
            size = r.uniform(0.1, 900)
            out.append(
                f"Collecting {pkg}=={version} (from -r requirements.txt "
                f"(line {r.randint(1, 30)}))\n"
                f"  Downloading https://files.pythonhosted.org/packages/{r.randrange(16**2):02x}/"
                f"{r.randrange(16**2):02x}/{r.randrange(16**60):060x}/{pkg}-{version}-cp311-"
                f"cp311-manylinux_2_17_x86_64.whl ({size:.1f} MB)\n"
                f"     {'━' * 40} {size:.1f}/{size:.1f} MB {r.uniform(1, 90):.1f} MB/s "
                "eta 0:00:00\n"
            )
    installed = " ".join(
        f"{r.choice(_PACKAGES)}-{r.randint(0, 3)}.{r.randint(0, 30)}.0"
        for _ in range(r.randint(2, 8))
    )
    out.append(
        f"Installing collected packages: {installed.replace('-', ', ')}\n"
        f"Successfully installed {installed}\n"
    )
    if r.random() < 0.1:
        out.append(
            f"WARNING: Retrying (Retry(total=4, connect=None, read=None)) after connection "
            f"broken by 'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection "
            f"failed: 407 Proxy Authentication Required'))': http://{USER}:"
            f"s3cr3t{r.randrange(10**6)}@proxy.corp.example:3128/simple/{r.choice(_PACKAGES)}/"
            "\n"
        )
    return "".join(out)


def _git(r: random.Random) -> str:
    objects = r.randint(1000, 90000)
    sha = f"{r.randrange(16**40):040x}"
    lines = [
        f"Cloning into '{HOME}/DinoAir/ComfyUI.partial-{r.randint(1000, 99999)}'...\n",
        f"remote: Enumerating objects: {objects}, done.\n",
        f"remote: Counting objects: 100% ({objects // 10}/{objects // 10}), done.\n",
        f"remote: Compressing objects: 100% ({objects // 20}/{objects // 20}), done.\n",
    ]
    for pct in range(0, 101, r.choice((10, 20, 25))):
        lines.append(
            f"Receiving objects:  {pct}% ({objects * pct // 100}/{objects}), "
            f"{r.uniform(0.1, 90):.2f} MiB | {r.uniform(0.5, 40):.2f} MiB/s\n"
        )
    lines.append(f"Resolving deltas: 100% ({objects // 3}/{objects // 3}), done.\n")
    lines.append(
        f"HEAD is now at {sha[:7]} Merge pull request #{r.randint(100, 9999)} from "
        f"contributor{r.randint(1, 500)}/fix-{r.choice(_PACKAGES)}\n"
    )
    if r.random() < 0.15:
        lines.append(
            f"fatal: could not read Username for 'https://github.com': terminal prompts "
            f"disabled (remote git@github.com:{USER}/ComfyUI.git, committer "
            f"{USER}@example.com from {r.randint(10, 250)}.{r.randint(0, 255)}."
            f"{r.randint(0, 255)}.{r.randint(1, 254)})\n"
        )
    if r.random() < 0.05:
        lines.append(
            f"export HF_TOKEN=hf_{r.randrange(16**34):034x} GITHUB_TOKEN=ghp_"
            f"{r.randrange(16**36):036x}\nAuthorization: Bearer "
            f"eyJhbGciOiJIUzI1NiJ9.{r.randrange(16**20):020x}.{r.randrange(16**20):020x}\n"
        )
    return "".join(lines)


def realistic_text(size: int, seed: int = 20240101) -> str:
    """At least ``size`` bytes (UTF-8) of installer-like output, the same for a given seed."""
    r = random.Random(seed)
    parts: list[str] = []
    total = 0
    makers = (_traceback, _pip, _git)
    while total < size:
        part = r.choice(makers)(r)
        parts.append(part)
        total += len(part.encode("utf-8"))
    return "".join(parts)


def run(quick: bool) -> list[Result]:
    from otel_local_exporter.sanitize import Sanitizer

    size = 1_000_000 if quick else 10_000_000
    rounds = 7
    text = realistic_text(size)
    nbytes = len(text.encode("utf-8"))
    sanitizer = Sanitizer(user=USER, home=HOME, host=HOST)
    out: dict[str, str] = {}

    def subject() -> None:
        sanitizer.reset_counts()
        out["clean"] = sanitizer.text(text)

    base_ns, subj_ns = interleave(lambda: json.dumps(text), subject, rounds)
    base, subj = median(base_ns), median(subj_ns)
    clean = out["clean"]
    leaked = [
        needle
        for needle in (HOME, "C:\\Users\\Alice", "hf_", "ghp_", "s3cr3t", f"{USER}@example.com")
        if needle in clean
    ]
    ratio = subj / base
    mbps = nbytes / 1e6 / (subj / 1e9)
    attribute = _attribute_figure(Sanitizer)
    base_mbps = nbytes / 1e6 / (base / 1e9)
    return [
        Result(
            name=NAME,
            figure=f"sanitizer, {nbytes / 1e6:.0f} MB realistic text",
            baseline=f"json.dumps {fmt_ns(base)} ({base_mbps:.0f} MB/s)",
            subject=f"{fmt_ns(subj)} ({mbps:.1f} MB/s)",
            ratio=ratio,
            target=f"<= {LIMIT:.0f}x",
            passed=ratio <= LIMIT and not leaked and clean != "<UNSANITIZABLE>",
            raw={
                "bytes": nbytes,
                "baseline_round_ns": base_ns,
                "subject_round_ns": subj_ns,
                "subject_mb_per_s": mbps,
                "baseline_mb_per_s": base_mbps,
                "replacements": dict(sanitizer.counts),
                "leaked": leaked,
                "output_bytes": len(clean.encode("utf-8")),
            },
            note=(
                f"LEAKED after sanitizing: {leaked}"
                if leaked
                else f"{sum(sanitizer.counts.values())} replacements made"
            ),
        ),
        attribute,
    ]


def _attribute_figure(sanitizer_class: type) -> Result:
    """Microseconds per span attribute string, sanitized once by a fresh (uncached) sanitizer."""
    strings = list(ATTRIBUTES)
    fresh: list = []

    def make() -> None:
        fresh[:] = [sanitizer_class(user=USER, home=HOME, host=HOST)]

    def subject() -> None:
        text = fresh[0].text
        for s in strings:
            text(s)

    base_ns, subj_ns = interleave(lambda: json.dumps(strings), subject, 41, between=make)
    base = median(base_ns) / len(strings)
    per = median(subj_ns) / len(strings)
    return Result(
        name=NAME,
        figure=f"sanitizer, one span attribute ({len(strings)} kinds, uncached)",
        baseline=f"json.dumps {fmt_ns(base)}",
        subject=fmt_ns(per),
        ratio=per / base,
        target=f"<= {ATTRIBUTE_LIMIT_US:.0f} us",
        passed=per / 1e3 <= ATTRIBUTE_LIMIT_US,
        raw={"baseline_round_ns": base_ns, "subject_round_ns": subj_ns, "strings": strings},
        note=f"{per / 1e3:.1f} us per attribute string, first sight (no cache)",
    )
