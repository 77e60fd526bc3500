"""The environment a row was measured in: versions, device, CPU, commit, host, time, and the machine.

A machine is part of a figure's identity (as asv names a machine): :func:`machine_name` gives a
short stable fingerprint from the CPU model, the core count, total memory (GiB), the accelerator,
JAX / jaxlib versions and the process's XLA flags (less those the harness sets itself: the forced
host device count, a cell's ``xla_devices``, and the runner's flags for every cell), e.g. ``"Intel(R) Xeon(R) Processor | 2 cores | 23 GiB |
no accelerator | jax 0.10.2 #1a2b3c4d"``: the words for a reader, the hash over every part (jaxlib
and the flags too) so that two machines differing anywhere differ. :func:`machine_of` computes it
from a row's columns, so a reader gives rows written before the ``machine`` column one too (their
memory and accelerator unrecorded: ``? GiB``, and the accelerator read off a GPU ``device_kind``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "numpyro", "blackjax", "arviz", "optax", "numpy")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_commit() -> str:
    """Commit of the harness source tree, with '+dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # an installed copy, not a checkout: git would name another repository
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


#: The environment variable naming the run a cell's process belongs to (set by
#: :func:`harness.runner.cell_env`; read by :mod:`harness.roofline` for its once-per-run probe).
RUN_ENV = "HARNESS_RUN_ID"


def peak_rss_mb(usage) -> float:
    """``ru_maxrss`` of a ``resource.getrusage`` result in MiB (Linux reports KiB, macOS bytes)."""
    scale = 1.0 / 2**20 if sys.platform == "darwin" else 1.0 / 2**10
    return usage.ru_maxrss * scale


def usable_cpus() -> list[int]:
    """The cores this process may run on, ascending (``os.sched_getaffinity``)."""
    return sorted(os.sched_getaffinity(0))


def cpu_affinity() -> str:
    """:func:`usable_cpus` as a row records it, e.g. ``"1"`` or ``"0,1"``."""
    return ",".join(map(str, usable_cpus()))


def memory_gib() -> int | None:
    """Total physical memory, GiB, rounded."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return None


@functools.cache
def accelerator() -> str:
    """The host's GPU model(s) as the NVIDIA driver lists them (independent of the platform JAX was
    started on, so a CPU cell on a GPU host names the same machine as its GPU cells), else 'none'."""
    models = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    models.append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    return ", ".join(f"{k} x{models.count(k)}" if models.count(k) > 1 else k for k in dict.fromkeys(models)) or "none"


def _given(v) -> bool:
    return v is not None and v == v and v != ""  # not None, not NaN, not empty


def machine_name(cpu, cpu_count, memory, accel, jax, jaxlib, xla_flags) -> str:
    """The machine fingerprint (module docstring) of these parts; a part not known reads '?'.

    ``xla_flags`` counts only what the harness did not set itself: the forced host device count (a
    cell's ``xla_devices``) and the flags every cell process gets (``harness.runner.BASE_XLA_FLAGS``)
    are left out, so the runner's own rows for a cell that failed (its process's XLA_FLAGS, not the
    cell's) name the same machine as the cells that ran."""
    from harness.runner import BASE_XLA_FLAGS  # here: the runner imports this module

    flags = " ".join(f for f in str(xla_flags or "").split()
                     if not f.startswith("--xla_force_host_platform_device_count") and f not in BASE_XLA_FLAGS)
    parts = [str(cpu) if _given(cpu) else "?", int(cpu_count) if _given(cpu_count) else "?",
             int(memory) if _given(memory) else "?", str(accel) if _given(accel) else "?",
             str(jax) if _given(jax) else "?", str(jaxlib) if _given(jaxlib) else "?", flags]
    digest = hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:8]
    accel_words = "no accelerator" if parts[3] == "none" else parts[3]
    return f"{parts[0]} | {parts[1]} cores | {parts[2]} GiB | {accel_words} | jax {parts[4]} #{digest}"


def machine_of(row) -> str:
    """:func:`machine_name` of a row (a mapping of its columns): its ``machine`` where it has one, else
    computed from ``cpu``, ``cpu_count``, ``memory_gib``, ``accelerator`` (older rows: a ``device_kind``
    other than cpu names the accelerator, else none), ``jax``, ``jaxlib`` and ``xla_flags_env``."""
    if _given(row.get("machine")):
        return str(row["machine"])
    accel = row.get("accelerator")
    if not _given(accel):
        kind = row.get("device_kind")
        accel = str(kind) if _given(kind) and str(kind).lower() != "cpu" else "none"
    return machine_name(row.get("cpu"), row.get("cpu_count"), row.get("memory_gib"), accel, row.get("jax"),
                        row.get("jaxlib"), row.get("xla_flags_env"))


def capture(with_device: bool = True) -> dict:
    """Environment columns of a row, ``machine`` among them. ``with_device`` initialises JAX to read its backend
    (the machine's fingerprint does not need it: it names the host's accelerator, not the cell's device)."""
    env = {
        "python": platform.python_version(),
        **{pkg: _version(pkg) for pkg in PACKAGES},
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": cpu_affinity(),
        "platform": sys.platform,
        "git_commit": git_commit(),
        "hostname": socket.gethostname(),
        "xla_flags_env": os.environ.get("XLA_FLAGS", ""),
        "memory_gib": memory_gib(),
        "accelerator": accelerator(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    env["machine"] = machine_of(env)
    if with_device:
        import jax

        dev = jax.devices()[0]
        env.update(backend=jax.default_backend(), device_kind=dev.device_kind, device_count=jax.device_count())
    else:
        env.update(backend=None, device_kind=None, device_count=None)
    return env
