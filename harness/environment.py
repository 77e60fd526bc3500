"""The environment a row was measured in: versions, device, CPU, commit, host, time."""

from __future__ import annotations

import datetime as _dt
import functools
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


def usable_cpus() -> list[int]:
    """The cores this process may run on, ascending (``os.sched_getaffinity``)."""
    return sorted(os.sched_getaffinity(0))


def cpu_affinity() -> str:
    """:func:`usable_cpus` as a row records it, e.g. ``"1"`` or ``"0,1"``."""
    return ",".join(map(str, usable_cpus()))


def capture(with_device: bool = True) -> dict:
    """Environment columns of a row. ``with_device`` initialises JAX to read its backend."""
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
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if with_device:
        import jax

        dev = jax.devices()[0]
        env.update(backend=jax.default_backend(), device_kind=dev.device_kind, device_count=jax.device_count())
    else:
        env.update(backend=None, device_kind=None, device_count=None)
    return env
