"""One short SVI run: the compiled optimisation (and draw) loops of svi_autonormal."""

from __future__ import annotations



def test_svi_short_run(benchmark, breast_cancer):
    import jax

    from harness import methods, timing

    method = methods.get("svi_autonormal")
    assert method.family == "vi"
    config = methods.RunConfig(1, 200, 100, method.resolve_options({}))
    with timing.recording_runs() as calls:
        result = method.run(breast_cancer, config, jax.random.key(0))
    assert calls, f"{method.name} times nothing through harness.timing.run_timed"

    def replay():  # every compiled loop the method timed, same arguments: its run minus compile
        for call in calls:
            call()

    benchmark.group = "svi"
    benchmark.extra_info.update(
        method=method.name, model="sparse_logistic", dataset="breast_cancer", n=breast_cancer.n,
        num_chains=1, num_warmup=200, num_samples=100, device=jax.default_backend(),
        work=1, work_unit="run (all timed loops)", compile_s=result.compile_s,
    )
    benchmark.pedantic(replay, rounds=3, iterations=1, warmup_rounds=1)
