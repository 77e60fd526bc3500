"""The memory roofline beside the gradient floor: how fast a gradient could be if it only moved its bytes.

The gradient floor says what a sampler adds on top of its gradients; the roofline says how far the
gradient itself is from the machine. For a data-bound density (a GLM at large N: each gradient
reads X forward and once more, transposed, backward) the bound is

    roofline_us_per_grad = grad_bytes / bandwidth / batch

- ``bandwidth``: a STREAM-like probe in JAX, run in the cell's own process (same device, same XLA
  flags): the sum of a float32 array far larger than any cache, best of ``REPEATS`` timed runs
  after one untimed (attainable read bandwidth, not an average). It is measured once per run
  (``harness run`` gives its cells one ``$HARNESS_RUN_ID``: the run's first cell on a host,
  device kind, JAX version and XLA flags probes, the later ones reuse it), and cached
  (``$HARNESS_CACHE_DIR``, default ``~/.cache/harness/bandwidth.json``) for a process outside
  any run (asv, tests); every row records the figure and when it was measured. Per run, not
  forever: one probe taken while the host was busy read 39 GB/s where quiet probes of the same
  host read 71, and a cache without end kept the low figure for every later run.
- ``grad_bytes``: the bytes one batched value-and-gradient evaluation moves, from XLA's cost
  analysis of the compiled program (``bytes accessed``: operands and outputs of every fused
  kernel), at the floor's batch and dtype; where the backend reports none, the data arrays'
  bytes twice (read forward and backward). The figure is a property of the program, not of the
  host's speed, so within a run it is found once per floor group (the cell's ``floor_group``: same
  posterior, size, batch, dtype, density, device and XLA setup) and read back by the group's later
  cells (``grad_bytes.json`` beside the bandwidth cache): its compile was 0.3-0.8 s of every small
  cell.

``x_roofline`` = floor / roofline: 1 is a gradient that streams its bytes at the probe's rate;
a density that is compute-bound or cache-resident (small N) sits far above it, and that is what
the figure says, not a fault.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harness.environment import RUN_ENV, cpu_affinity

PROBE_BYTES = {"cpu": 512 * 2**20, "gpu": 2 * 2**30}
REPEATS = 10
CACHE_ENV = "HARNESS_CACHE_DIR"


class Bandwidth(NamedTuple):
    """Attainable read bandwidth of this process's device, and where the figure came from."""

    gb_per_s: float
    measured: str  # ISO time of the probe
    cached: bool


def _cache_path() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "harness") / "bandwidth.json"


def _host_key() -> str:
    dev = jax.devices()[0]
    return "|".join((socket.gethostname(), dev.platform, dev.device_kind, jax.__version__,
                     os.environ.get("XLA_FLAGS", ""), cpu_affinity()))  # a process held to one core streams less


def probe(nbytes: int | None = None, repeats: int = REPEATS) -> float:
    """Read bandwidth in GB/s: best of ``repeats`` timed sums of a float32 array of ``nbytes``."""
    platform = jax.devices()[0].platform
    n = (nbytes or PROBE_BYTES.get(platform, PROBE_BYTES["gpu"])) // 4
    x = jax.block_until_ready(jnp.ones((n,), jnp.float32))
    total = jax.jit(jnp.sum).lower(x).compile()
    jax.block_until_ready(total(x))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(total(x))
        best = min(best, time.perf_counter() - t0)
    return 4 * n / best / 1e9


def _read_cache(path: Path) -> dict:
    """A cache file's contents; empty where it is missing or unreadable."""
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(path: Path, cache: dict) -> None:
    """Write a cache file atomically (temp file, then rename: concurrent cells never read half a file);
    an unwritable cache only means a later cell finds its figure again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(path)
    except OSError:
        pass


def bandwidth(measure: Callable[[], float] = probe) -> Bandwidth:
    """This host's bandwidth: from the cache (this run's probe, within a run), else measured
    (``measure``) and cached."""
    path, key = _cache_path(), _host_key()
    cache = _read_cache(path)
    run = os.environ.get(RUN_ENV)
    hit = cache.get(key)
    if isinstance(hit, dict) and (run is None or hit.get("run") == run):
        return Bandwidth(float(hit["gb_per_s"]), str(hit["measured"]), True)
    gbs = float(measure())
    when = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    cache[key] = {"gb_per_s": gbs, "measured": when, "run": run}
    _write_cache(path, cache)
    return Bandwidth(gbs, when, False)


def grad_bytes(log_density_of: Callable, data, positions) -> tuple[float, str]:
    """Bytes one batched value-and-gradient evaluation moves at ``positions`` (batch, dim), and how
    that was found: ``"xla cost analysis"`` or ``"data arrays x 2"``."""

    def value_and_grad(z, data):
        return jax.vmap(jax.value_and_grad(log_density_of(data)))(z)

    try:
        cost = jax.jit(value_and_grad).lower(positions, data).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        accessed = float(cost.get("bytes accessed", 0.0)) if cost else 0.0
    except Exception:  # a backend without cost analysis
        accessed = 0.0
    if accessed > 0:
        return accessed, "xla cost analysis"
    arrays = sum(np.asarray(v).nbytes for v in jax.tree.leaves(data))
    return 2.0 * arrays + 2.0 * np.asarray(positions).nbytes, "data arrays x 2"


def _grad_bytes_of_group(group: str | None, compute: Callable[[], tuple[float, str]]) -> tuple[float, str]:
    """``compute()``, or what this run's earlier cell of the same floor ``group`` found (module docstring).
    Outside a run, or without a group, it is computed; the cache keeps this run's entries only."""
    run = os.environ.get(RUN_ENV)
    if group is None or run is None:
        return compute()
    path, key = _cache_path().with_name("grad_bytes.json"), f"{jax.__version__}|{group}"
    cache = _read_cache(path)
    entries = cache.get("groups", {}) if cache.get("run") == run else {}
    hit = entries.get(key)
    if isinstance(hit, list) and len(hit) == 2:
        return float(hit[0]), str(hit[1])
    nbytes, source = compute()
    entries[key] = [nbytes, source]
    _write_cache(path, {"run": run, "groups": entries})  # two cells writing at once lose one entry, found again later
    return nbytes, source


def columns(log_density_of: Callable, data, positions, floor_us_per_grad: float, group: str | None = None) -> dict:
    """The row's roofline columns for a gradient floor measured at ``positions``; ``group`` (the cell's
    floor group) lets a run find the gradient's bytes once per group (module docstring)."""
    bw = bandwidth()
    nbytes, source = _grad_bytes_of_group(group, lambda: grad_bytes(log_density_of, data, positions))
    batch = int(positions.shape[0])
    roof = nbytes / (bw.gb_per_s * 1e9) / batch * 1e6
    return {
        "bandwidth_gbs": bw.gb_per_s, "bandwidth_measured": bw.measured, "grad_bytes": nbytes,
        "grad_bytes_source": source, "roofline_us_per_grad": roof,
        "x_roofline": floor_us_per_grad / roof if roof > 0 else float("nan"),
    }
