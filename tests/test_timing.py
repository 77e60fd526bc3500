"""The replay protocol: how many replays, pairing with the floor, and a ratio that tells a slow method apart."""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import targets, timing


@pytest.mark.parametrize("first_s, work_s, replays, first_counts", [
    (0.001, None, 90, False),   # tiny loop: pairs of 0.001 + 0.01 s (the floor run's least)
    (0.001, 100.0, 100, False),  # capped at 100 replays
    (0.05, None, 13, False),    # the default budget: 1 s of loop and floor time, pairs of 0.05 + 0.025 s
    (0.12, None, 5, False),     # five pairs affordable: the first run left out
    (0.2, None, 3, True),       # fewer than five: the first run counts, a median of four
    (0.3, None, 2, True),       # a median of three
    (0.34, None, 0, True),      # fewer than two affordable: its own run only
    (0.05, 5.0, 6, False),      # a small cell: at least 0.5 s, pairs of 0.05 + 0.025 s
    (0.5, 100.0, 6, False),     # a cell of 100 s of work may spend 5 s: pairs of 0.5 + 0.25 s
    (2.5, 200.0, 3, True),      # 10 s of a 200 s cell: pairs of 2.5 + 0.25 s
    (3.0, 30.0, 0, True),       # NUTS at N = 569: a 3 s loop in a 30 s cell is timed once
    (400.0, 3000.0, 0, True),
])
def test_replay_count_rule(first_s, work_s, replays, first_counts):
    assert timing.replay_count(first_s, work_s) == (replays, first_counts)


def test_replays_and_their_floor_runs_cost_a_twentieth_of_the_work_or_half_a_second():
    for first_s in (0.001, 0.05, 0.3, 2.0, 40.0):
        for work_s in (1.0, 5.0, 60.0, 600.0):
            replays, _ = timing.replay_count(first_s, work_s)
            pair = first_s + timing.floor_call_seconds(first_s)
            assert replays * pair <= max(0.5, 0.05 * work_s) + 1e-9


def test_a_floor_run_lasts_half_the_loop_within_bounds():
    assert timing.floor_call_seconds(0.001) == 0.01
    assert timing.floor_call_seconds(0.2) == pytest.approx(0.1)
    assert timing.floor_call_seconds(30.0) == 0.25


def test_replay_cost_counts_the_replays_a_floor_run_per_timing_the_host_reference_and_the_copy_trials():
    # 13 replays: 13 floor runs paired + 1 untimed; the reference 1 untimed + at pairs 0, 6, 12
    assert timing.replay_cost_s(0.05) == pytest.approx(13 * 0.05 + 14 * 0.025 + 4 * 0.025)
    assert timing.replay_cost_s(0.01) == pytest.approx(50 * 0.01 + 51 * 0.01 + 4 * 0.01)
    # three copies: each tried FLOOR_TRIALS times, a trial at most FLOOR_TRIAL_S
    trials = 3 * timing.FLOOR_TRIALS * timing.FLOOR_TRIAL_S
    assert timing.replay_cost_s(0.05, copies=3) == pytest.approx(timing.replay_cost_s(0.05) + trials)
    # the first run counts plus 3 replays (10 s of a 200 s cell): 4 pairs, floor runs capped at 0.25 s
    assert timing.replay_cost_s(2.5, 200.0) == pytest.approx(3 * 2.5 + 5 * 0.25 + 4 * 0.25)
    # one timing: one paired floor run + 1 untimed; the reference 1 untimed + 1
    assert timing.replay_cost_s(400.0, 3000.0) == pytest.approx(2 * 0.25 + 2 * 0.25)


def test_a_floor_picks_among_copies_only_where_the_data_is_large():
    assert timing.floor_copies(None) == timing.floor_copies(569) == timing.floor_copies(10_000) == 1
    assert timing.floor_copies(timing.FLOOR_COPIES_MIN_N) == timing.floor_copies(10**6) == timing.FLOOR_COPIES == 3


def test_floor_is_the_fastest_of_its_compiled_copies(monkeypatch):
    """Copies of one program run at their own speeds: the floor keeps the fastest, sized by the first."""
    speeds = [2e-4, 1e-4, 3e-4]  # seconds per iteration of the 1st, 2nd, 3rd compiled copy
    made = []

    def fake_compile(fn, *args, static_argnums=()):
        s = speeds[len(made)]

        def copy(z, n, data):
            time.sleep(s * int(n))
            return z

        made.append(copy)
        return copy, 0.0

    monkeypatch.setattr(timing, "compile_timed", fake_compile)
    z = jnp.zeros((2, 3))
    call = timing.floor_loop(lambda data: None, {}, z, seconds=0.05)
    assert len(made) == timing.FLOOR_COPIES == 3
    assert call.compiled is made[1]
    iters = int(call.args[1])
    assert iters == pytest.approx(0.05 / 2e-4, rel=0.3)  # sized on the first copy
    assert call.work == iters * 2
    made.clear()
    assert timing.floor_loop(lambda data: None, {}, z, seconds=0.05, copies=1).compiled is made[0]
    assert len(made) == 1


def _posterior():
    return targets.Posterior(targets.get("sparse_logistic"), "breast_cancer", None)


def _loop(posterior, positions, evals_per_count: int, iters: int = 200):
    """A compiled 'sampler' that evaluates value_and_grad ``evals_per_count`` times per gradient it reports."""
    density_of, data = posterior.density_and_data()

    def run(z, data):
        vg = jax.vmap(jax.value_and_grad(density_of(data)))

        def body(_, carry):
            z, total = carry
            for _ in range(evals_per_count):  # each at a new point: nothing to share between them
                logp, g = vg(z)
                z, total = z + jnp.asarray(1e-12, z.dtype) * g, total + jnp.sum(logp)
            return z, total

        return jax.lax.fori_loop(0, iters, body, (z, jnp.zeros((), z.dtype)))

    compiled, _ = timing.compile_timed(run, positions, data)
    _, seconds = timing.run_timed(compiled, positions, data)
    return timing.TimedCall(compiled, (positions, data), seconds, work=iters * positions.shape[0])


def test_paired_ratio_tells_a_method_at_the_floor_from_one_three_times_slower():
    """A 'method' that is exactly the floor's work reads about 1; one that pays 3 gradients per counted one
    reads about 3. Bounds are wide (a noisy shared host) but a ratio that cannot tell them apart fails."""
    posterior = _posterior()
    positions = posterior.initial_positions(jax.random.key(0), 4)
    density_of, data = posterior.density_and_data()
    at_floor, slow = _loop(posterior, positions, 1), _loop(posterior, positions, 3)
    r1 = timing.replay_paired(at_floor, timing.floor_loop(density_of, data, positions, seconds=at_floor.seconds))
    r3 = timing.replay_paired(slow, timing.floor_loop(density_of, data, positions, seconds=slow.seconds))
    assert 0.7 < r1.ratio < 1.5, r1.ratios
    assert 2.0 < r3.ratio < 4.5, r3.ratios
    assert r3.ratio / r1.ratio > 2.0


def test_replay_pairs_every_timed_run_with_a_floor_run_and_reports_medians():
    posterior = _posterior()
    positions = posterior.initial_positions(jax.random.key(0), 2)
    loop = _loop(posterior, positions, 1, iters=50)
    floor = timing.floor_loop(*posterior.density_and_data(), positions, seconds=0.01)
    r = timing.replay_paired(loop, floor)
    n, first_counts = timing.replay_count(loop.seconds)
    assert len(r.loop_s) == len(r.floor_s) == len(r.ratios) == n + first_counts
    assert r.seconds == np.median(r.loop_s) and r.ratio == np.median(r.ratios)
    assert min(r.loop_s) <= r.seconds <= max(r.loop_s)
    for t, f, q in zip(r.loop_s, r.floor_s, r.ratios):
        assert q == pytest.approx(t / loop.work / f)
    no_work = timing.replay_paired(loop._replace(work=0), floor)
    assert all(math.isnan(q) for q in no_work.ratios) and no_work.seconds > 0


def test_chain_replays_every_piece_in_order_and_sums_their_seconds():
    """A loop run in pieces (sequential chains, chunks to a target) is replayed whole: each piece with
    its own arguments, in order; one piece is returned as it is."""
    seen = []
    f = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    record = lambda x: seen.append(float(x[0])) or f(x)  # noqa: E731
    pieces = [timing.TimedCall(record, (jnp.full(3, float(i)),), seconds=0.5 * i) for i in range(3)]
    loop = timing.chain(pieces)
    assert loop.seconds == pytest.approx(1.5) and loop.args == tuple(pieces)
    assert loop() > 0 and seen == [0.0, 1.0, 2.0]
    assert timing.chain(pieces[:1]) is pieces[0]


def test_a_chained_loop_names_its_pieces_program_for_the_hlo_count():
    f = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    pieces = [timing.TimedCall(f, (jnp.full(3, float(i)),), seconds=0.1) for i in range(2)]
    assert timing.program(timing.chain(pieces)) is f and timing.program(pieces[0]) is f
    assert timing.hlo_ops(timing.program(timing.chain(pieces))) == timing.hlo_ops(f) > 0
    assert timing.hlo_ops(timing.chain(pieces).compiled) is None  # what the row had before: no count for a chunked run


def test_program_id_is_the_compiled_program_same_across_copies_and_different_for_other_shapes():
    """The host reference's identity (``ref_program``): two compiled copies of one program on inputs of one
    shape share it (compare may then divide one by the other), a longer data set (1.3x the rows, the planted
    slowdown's change) or another program does not; a chained call is its first piece's program."""
    posterior = _posterior()
    positions = posterior.initial_positions(jax.random.key(0), 2)
    density_of, data = posterior.density_and_data()
    a = timing.floor_loop(density_of, data, positions, seconds=0.001, copies=1)
    b = timing.floor_loop(density_of, data, positions, seconds=0.001, copies=1)
    longer = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x[: max(1, x.shape[0] // 3)]])
                                    if getattr(x, "ndim", 0) >= 1 else x, data)
    c = timing.floor_loop(density_of, longer, positions, seconds=0.001, copies=1)
    other = _loop(posterior, positions, 1, iters=5)
    ids = [timing.program_id(x) for x in (a, b, c, other)]
    assert ids[0] == ids[1] and len(set(ids[1:])) == 3 and len(ids[0]) == 16
    assert timing.program_id(timing.chain([a, other])) == ids[0]
    r = timing.replay_paired(other, a, ref=b)
    assert r.ref_program == ids[0] and timing.replay_paired(other, a).ref_program is None
