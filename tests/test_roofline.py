"""The memory roofline (harness.roofline): the bandwidth probe and its cache, the bytes a gradient moves."""

from __future__ import annotations

import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import roofline


def _logistic(data):
    X, y = data["X"], data["y"]
    return lambda w: jnp.sum(y * (X @ w) - jnp.logaddexp(0.0, X @ w)) - 0.5 * jnp.sum(w**2)


def _data(n, d=30, seed=0):
    rng = np.random.default_rng(seed)
    return {"X": jnp.asarray(rng.standard_normal((n, d)), jnp.float32),
            "y": jnp.asarray(rng.random(n) < 0.5, jnp.float32)}


def test_the_probe_divides_the_arrays_bytes_by_its_fastest_read(monkeypatch):
    """With a clock that makes the three timed sums take 0.5, 0.25 and 0.4 s, 4 MiB read in the best
    of them is 4 * 2**20 bytes / 0.25 s = 0.016777216 GB/s."""
    ticks = iter([0.0, 0.5, 10.0, 10.25, 20.0, 20.4])
    monkeypatch.setattr(roofline, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert roofline.probe(nbytes=4 * 2**20, repeats=3) == pytest.approx(0.016777216)
    assert next(ticks, None) is None  # one start and one stop per repeat, no more


def test_the_bandwidth_is_measured_once_per_host_and_flags(tmp_path, monkeypatch):
    monkeypatch.setenv(roofline.CACHE_ENV, str(tmp_path))
    calls = []

    def measure():
        calls.append(1)
        return 12.5

    first = roofline.bandwidth(measure)
    again = roofline.bandwidth(measure)
    assert (first.gb_per_s, first.cached, again.gb_per_s, again.cached) == (12.5, False, 12.5, True)
    assert again.measured == first.measured and len(calls) == 1
    monkeypatch.setenv("XLA_FLAGS", "--xla_some_other_setup=1")  # another process setup: measured apart
    assert roofline.bandwidth(measure).cached is False and len(calls) == 2


def test_each_run_probes_once_and_its_cells_share_the_figure(tmp_path, monkeypatch):
    monkeypatch.setenv(roofline.CACHE_ENV, str(tmp_path))
    figures = iter([10.0, 30.0, 50.0])
    monkeypatch.setenv(roofline.RUN_ENV, "run-a")
    first = roofline.bandwidth(lambda: next(figures))
    second = roofline.bandwidth(lambda: next(figures))
    monkeypatch.setenv(roofline.RUN_ENV, "run-b")  # a later run: a fresh probe, not the old figure
    later = roofline.bandwidth(lambda: next(figures))
    assert (first.gb_per_s, first.cached, second.gb_per_s, second.cached) == (10.0, False, 10.0, True)
    assert (later.gb_per_s, later.cached) == (30.0, False)


def test_a_gradient_moves_its_data_about_twice_and_the_bytes_grow_with_n():
    z = jnp.zeros((4, 30), jnp.float32)
    small, how = roofline.grad_bytes(_logistic, _data(20_000), z)
    large, _ = roofline.grad_bytes(_logistic, _data(40_000), z)
    x_bytes = 20_000 * 30 * 4
    assert how in ("xla cost analysis", "data arrays x 2")
    assert 1.0 <= small / x_bytes <= 6.0  # X read forward and (transposed) backward, plus small vectors
    assert large / small == pytest.approx(2.0, rel=0.15)


def test_columns_divide_bytes_by_bandwidth_and_batch(monkeypatch):
    monkeypatch.setattr(roofline, "bandwidth", lambda: roofline.Bandwidth(10.0, "2026-11-25T00:00:00+00:00", True))
    z = jnp.zeros((4, 30), jnp.float32)
    cols = roofline.columns(_logistic, _data(10_000), z, floor_us_per_grad=100.0)
    expect = cols["grad_bytes"] / 10e9 / 4 * 1e6
    assert cols["roofline_us_per_grad"] == pytest.approx(expect)
    assert cols["x_roofline"] == pytest.approx(100.0 / expect) and cols["bandwidth_gbs"] == 10.0
    assert all(isinstance(v, (float, str)) for v in cols.values())  # plain values for a JSON row


def test_a_runs_cells_of_one_floor_group_find_the_gradients_bytes_once(monkeypatch, tmp_path):
    monkeypatch.setenv(roofline.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(roofline, "bandwidth", lambda: roofline.Bandwidth(10.0, "2026-12-02T00:00:00+00:00", True))
    calls = []
    real = roofline.grad_bytes

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(roofline, "grad_bytes", counted)
    z, data = jnp.zeros((4, 30), jnp.float32), _data(2_000)
    monkeypatch.setenv(roofline.RUN_ENV, "run-a")
    first = roofline.columns(_logistic, data, z, 100.0, group="g1")
    again = roofline.columns(_logistic, data, z, 100.0, group="g1")
    assert again == first and len(calls) == 1  # the group's later cell reads the figure back
    roofline.columns(_logistic, _data(4_000), z, 100.0, group="g2")
    assert len(calls) == 2  # another group computes its own
    monkeypatch.setenv(roofline.RUN_ENV, "run-b")  # a later run finds it again, and keeps only its own entries
    assert roofline.columns(_logistic, data, z, 100.0, group="g1") == first and len(calls) == 3
    assert list(json.loads((tmp_path / "grad_bytes.json").read_text())["groups"]) == [f"{jax.__version__}|g1"]
    monkeypatch.delenv(roofline.RUN_ENV)  # outside a run (asv, tests): always computed
    roofline.columns(_logistic, data, z, 100.0, group="g1")
    assert len(calls) == 4
