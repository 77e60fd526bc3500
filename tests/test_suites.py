"""Suites: malformed files fail with one line naming the key (exit 2, nothing run); shipped suites are
well-formed; CLI flags narrow or override; per-method settings; the duration estimate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import UsageError, cli, methods, suites
from harness.suites import calibration, resolve

#: The shipped calibration of the project's 2-core Intel Xeon (harness/suites/_machines.json).
XEON = calibration.lookup("Intel(R) Xeon(R) Processor | 2 cores | 24 GiB | no accelerator | jax 0.10.2 #a25a2f8b")

GOOD = """
methods = ["handrolled_hmc"]
chains = [2]
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [200]
"""


@pytest.mark.parametrize(
    "text,needle",
    [
        ("bogus = 1\n" + GOOD, "unknown key 'bogus'"),
        (GOOD.replace('sizes = [200]', 'sizes = [200]\nsize = 3'), "unknown key 'data[0].size'"),
        (GOOD.replace("chains = [2]", 'chains = "4"'), "chains must be a non-empty list"),
        (GOOD.replace("chains = [2]", "chains = [0]"), "chains[0] must be a positive integer"),
        (GOOD.replace("chains = [2]", "chains = []"), "chains must be a non-empty list"),
        (GOOD.replace("sizes = [200]", "sizes = []"), "data[0].sizes must be a non-empty list"),
        (GOOD.replace('"handrolled_hmc"]', '"handrolled_hmc", "nope"]'), "methods[1]: unknown method 'nope'"),
        (GOOD.replace('model = "sparse_logistic"', 'model = "nope"'), "data[0].model: unknown model 'nope'"),
        (GOOD.replace('dataset = "synthetic"', 'dataset = "nope"'), "data[0].dataset: unknown dataset 'nope'"),
        (GOOD.replace("chains = [2]", 'devices = ["tpu"]'), "devices[0] must be one of cpu, gpu"),
        (GOOD.replace("chains = [2]", 'precisions = ["float16"]'), "precisions[0] must be one of float32"),
        (GOOD.replace("chains = [2]", "num_samples = 1.5"), "num_samples must be a positive integer"),
        (GOOD.replace("chains = [2]", "timeout_s = -1"), "timeout_s must be a positive finite number"),
        (GOOD.replace("chains = [2]", "timeout_s = inf"), "timeout_s must be a positive finite number"),
        (GOOD.replace("chains = [2]", "target_ess = nan"), "target_ess must be a positive finite number"),
        (GOOD + "[options.handrolled_hmc]\nstep_size = inf\n", "step_size must be null or a positive finite float"),
        ("cpus = 0\n" + GOOD, 'cpus must be a positive integer or "all"'),
        ('cpus = "two"\n' + GOOD, 'cpus must be a positive integer or "all"'),
        (GOOD + "[options.handrolled_hmc]\nbogus = 1\n", "options.handrolled_hmc: unknown option(s) bogus"),
        (GOOD + "[settings.handrolled_hmc]\nmax_m = 1\n", "unknown key 'settings.handrolled_hmc.max_m'"),
        (GOOD + "[settings.nope]\nmax_n = 1\n", "settings.nope: unknown method 'nope'"),
        (GOOD + 'methods = ["numpyro_nuts"]\n', "data[0].methods[0] 'numpyro_nuts' is not in the suite's methods"),
        (GOOD + "x = \n", "not valid TOML"),
        ('methods = ["handrolled_hmc"]\n', "missing key 'data'"),
    ],
)
def test_malformed_suite_is_one_line_exit_2_and_nothing_runs(tmp_path, capsys, text, needle):
    path, out = tmp_path / "bad.toml", tmp_path / "run"
    path.write_text(text)
    assert cli.main(["run", "--suite", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error: suite ") and needle in err, err
    assert not out.exists()


def test_cli_flags_narrow_and_override(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD.replace('["handrolled_hmc"]', '["handrolled_hmc", "numpyro_nuts"]')
                    + "[options.handrolled_hmc]\nnum_steps = 5\n[settings.numpyro_nuts]\nnum_warmup = 7\n")
    suite = suites.load(str(path))
    cells = suites.expand(suite)
    assert len(cells) == 2 and cells[0].options["num_steps"] == 5 and cells[1].num_warmup == 7
    assert cells[0].num_warmup == 500  # the top-level default
    cells = suites.expand(suite, methods=["handrolled_hmc"], seeds=[0, 1, 2], precisions=["float32", "float64"],
                          sizes=[100, 300], num_warmup=3, xla_devices=2)
    assert len(cells) == 2 * 3 * 2  # sizes x seeds x precisions
    assert {c.n for c in cells} == {100, 300} and {c.num_warmup for c in cells} == {3}
    assert {c.precision for c in cells} == {"float32", "float64"} and {c.xla_devices for c in cells} == {2}
    assert len({c.key() for c in cells}) == len(cells)


ENTRIES = """
methods = ["handrolled_hmc", "numpyro_nuts"]
num_warmup = 500
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [100, 1000]
methods = ["numpyro_nuts"]
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [100, 1000]
num_warmup = 9
methods = ["handrolled_hmc"]
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [3000]
num_warmup = 30
[[data]]
model = "eight_schools-eight_schools_noncentered"
"""


def test_cli_method_and_size_run_the_suites_own_cells(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(ENTRIES)
    suite = suites.load(str(path))
    # --method X: one cell per size, with the settings of the entry that runs X there (not one per entry)
    cells = suites.expand(suite, methods=["handrolled_hmc"])
    assert [(c.n, c.num_warmup) for c in cells if c.model == "sparse_logistic"] == [(100, 9), (1000, 9), (3000, 30)]
    assert len({(c.model, c.n) for c in cells}) == len(cells)
    # --size N: the entry for that size gives the settings; fixed-data models (posteriordb) drop out
    cells = suites.expand(suite, methods=["numpyro_nuts"], sizes=[3000])
    assert [(c.model, c.n, c.num_warmup) for c in cells] == [("sparse_logistic", 3000, 30)]
    cells = suites.expand(suite, sizes=[1000])
    assert sorted((c.method, c.num_warmup) for c in cells) == [("handrolled_hmc", 9), ("numpyro_nuts", 500)]
    # README's example on the shipped default suite
    assert [(c.n, c.method) for c in suites.expand(suites.load("default"), methods=["numpyro_nuts"], sizes=[10000],
                                                   seeds=[0, 1, 2])] == [(10000, "numpyro_nuts")] * 3
    path.write_text('methods = ["handrolled_hmc"]\n[[data]]\nmodel = "eight_schools-eight_schools_noncentered"\n')
    with pytest.raises(UsageError, match="no model of this suite has synthetic data"):
        suites.expand(suites.load(str(path)), sizes=[100])


@pytest.mark.every_core  # cpus = 2 needs two usable cores
def test_cpu_cells_are_held_to_one_core_unless_the_suite_or_cli_says_otherwise(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    suite = suites.load(str(path))
    assert [c.cpus for c in suites.expand(suite)] == [suites.DEFAULT_CPUS] == [1]
    assert [c.cpus for c in suites.expand(suite, devices=["gpu"])] == [None]  # a GPU cell's host keeps every core
    assert [c.cpus for c in suites.expand(suite, cpus="all")] == [None]
    path.write_text('cpus = "all"\n' + GOOD)
    assert [c.cpus for c in suites.expand(suites.load(str(path)))] == [None]
    path.write_text("cpus = 2\n" + GOOD)
    if len(os.sched_getaffinity(0)) >= 2:
        assert [c.cpus for c in suites.expand(suites.load(str(path)))] == [2]
    with pytest.raises(UsageError, match="cpus must be between 1 and the"):
        suites.expand(suite, cpus=len(os.sched_getaffinity(0)) + 1)


def test_seeds_flag_gives_k_seeds_per_cell(capsys):
    assert cli.main(["run", "--method", "handrolled_hmc", "--model", "sparse_logistic", "--dataset", "breast_cancer",
                     "--seeds", "3", "--seed", "10", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert [ln.rsplit("/", 1)[1] for ln in out.splitlines()[:-1]] == ["s10", "s11", "s12"]
    assert "3 cell(s), estimated" in out


def test_per_method_max_n_timeout_and_data_entry_methods(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("""
methods = ["handrolled_hmc", "numpyro_nuts"]
timeout_s = 100
[[data]]
model = "sparse_logistic"
sizes = [1000, 100000]
timeout_s = 50
[[data]]
model = "sparse_logistic"
dataset = "breast_cancer"
methods = ["numpyro_nuts"]
[settings.numpyro_nuts]
max_n = 10000
timeout_s = 20
""")
    suite = suites.load(str(path))
    cells = suites.expand(suite)
    got = sorted((c.dataset, c.n, c.method) for c in cells)
    assert got == [("breast_cancer", 569, "numpyro_nuts"), ("synthetic", 1000, "handrolled_hmc"),
                   ("synthetic", 1000, "numpyro_nuts"), ("synthetic", 100000, "handrolled_hmc")]
    timeouts = {(c.dataset, c.n, c.method): suites.timeout_for(suite, c, 1800) for c in cells}
    assert timeouts[("synthetic", 1000, "numpyro_nuts")] == 20  # settings.<method> first
    assert timeouts[("synthetic", 1000, "handrolled_hmc")] == 50  # then the data entry
    assert timeouts[("breast_cancer", 569, "numpyro_nuts")] == 20


def test_a_data_entry_timeout_holds_only_for_its_own_sizes_and_methods(tmp_path):
    """Two entries of one model and dataset: the second's timeout is not the first's cells' (the
    target suite's NUTS-only 1e5 entry once gave its 1,200 s to every cell of the target)."""
    path = tmp_path / "s.toml"
    path.write_text("""
methods = ["handrolled_hmc", "numpyro_nuts"]
timeout_s = 100
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [1000]
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [100000]
methods = ["handrolled_hmc"]
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [100000]
methods = ["numpyro_nuts"]
timeout_s = 1200
""")
    suite = suites.load(str(path))
    timeouts = {(c.n, c.method): suites.timeout_for(suite, c, 1800) for c in suites.expand(suite)}
    assert timeouts == {(1000, "handrolled_hmc"): 100, (1000, "numpyro_nuts"): 100,
                        (100000, "handrolled_hmc"): 100, (100000, "numpyro_nuts"): 1200}


def test_timeouts_and_cell_settings_follow_one_precedence(tmp_path):
    """settings.<method> over the data entry over the top level, for timeout_s as for num_warmup."""
    path = tmp_path / "s.toml"
    path.write_text("""
methods = ["handrolled_hmc", "numpyro_nuts"]
num_warmup = 10
timeout_s = 10
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [1000]
num_warmup = 20
timeout_s = 20
[[data]]
model = "sparse_logistic"
dataset = "synthetic"
sizes = [2000]
[settings.numpyro_nuts]
num_warmup = 30
timeout_s = 30
""")
    suite = suites.load(str(path))
    got = {(c.n, c.method): (c.num_warmup, suites.timeout_for(suite, c, 1800)) for c in suites.expand(suite)}
    assert got == {(1000, "handrolled_hmc"): (20, 20), (1000, "numpyro_nuts"): (30, 30),
                   (2000, "handrolled_hmc"): (10, 10), (2000, "numpyro_nuts"): (30, 30)}


def test_a_suites_shape_is_checked_without_jax():
    """resolve=False reads and checks a file with the registries untouched (benchmarks/common.py does)."""
    code = ("import sys; from harness.suites import spec; s = spec.load('asv', resolve=False); "
            "print(s['methods'][-1], 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(suites.__file__).parents[2])
    assert out.stdout.split() == ["-numpyro_barkermh", "False"]


def test_data_entry_precisions_and_cli_override(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("""
methods = ["handrolled_hmc"]
[[data]]
model = "sparse_logistic"
dataset = "breast_cancer"
precisions = ["float64"]
[[data]]
model = "sparse_logistic"
sizes = [1000]
""")
    suite = suites.load(str(path))
    assert {(c.dataset, c.precision) for c in suites.expand(suite)} == {("breast_cancer", "float64"),
                                                                         ("synthetic", "float32")}
    assert {c.precision for c in suites.expand(suite, precisions=["float32"])} == {"float32"}


def test_a_data_entry_may_afford_fewer_seeds_and_the_cli_overrides_them(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("""
methods = ["handrolled_hmc"]
seeds = [0, 1, 2]
[[data]]
model = "sparse_logistic"
sizes = [1000]
[[data]]
model = "sparse_logistic"
sizes = [100000]
seeds = [0]
""")
    suite = suites.load(str(path))
    got = {(c.n, c.seed) for c in suites.expand(suite)}
    assert got == {(1000, 0), (1000, 1), (1000, 2), (100000, 0)}
    assert {(c.n, c.seed) for c in suites.expand(suite, seeds=[3, 4])} == {(n, s) for n in (1000, 100000) for s in (3, 4)}
    path.write_text(path.read_text().replace("seeds = [0]\n", "seeds = [-1]\n"))
    with pytest.raises(UsageError, match=r"seeds\[0\]"):
        suites.load(str(path))


def test_shipped_suites_are_well_formed_and_estimated(monkeypatch):
    monkeypatch.setattr(resolve, "usable_cpus", lambda: [0, 1])  # the Xeon's two cores, wherever this runs
    assert {"quick", "default", "scaling", "gpu"} <= set(suites.names())
    minutes = {}
    for name in suites.names():
        suite = suites.load(name)
        cells = suites.expand(suite)
        assert cells and len({c.key() for c in cells}) == len(cells)
        minutes[name] = suites.estimate_s(suite, cells, 1800, suites.jobs(suite), speed=XEON) / 60
    # as `harness list suites` prices them on the 2-core Xeon the default suite is meant for (its header)
    assert minutes["quick"] < 3 and minutes["default"] < 45
    default = suites.expand(suites.load("default"))
    every = set(suites.load("default")["methods"])
    at = {n: {c.method for c in default if c.model == "sparse_logistic" and c.n == n} for n in (569, 10000, 100000)}
    assert at[569] == every  # every method at 569 (breast_cancer), and at 10k and 100k all but those
    assert every - at[10000] == {"numpyro_hmcecs"}  # the suite's header names as dropped there
    assert every - at[100000] == {"blackjax_nuts", "numpyro_nuts", "blackjax_chees", "numpyro_hmcecs", "numpyro_sa",
                                  "numpyro_barkermh", "svi_autonormal", "svi_autolowrank", "svi_autolaplace"}
    # every MCMC cell runs to ESS 400 under a cap of whole chunks; VI keeps its own rule (issue 13)
    mcmc = [c for c in default if methods.get(c.method).family == "mcmc"]
    assert {c.target_ess for c in mcmc} == {400.0}
    assert all(c.max_draws >= c.num_samples and c.max_draws % c.num_samples == 0 for c in mcmc)
    assert all(c.target_ess is None for c in default if methods.get(c.method).family == "vi")
    gp = {c.precision for c in default if c.model == "gp_pois_regr-gp_pois_regr"}
    assert gp == {"float64"} and {c.precision for c in default if c.model == "sparse_logistic"} == {"float32"}
    gpu = suites.expand(suites.load("gpu"))
    assert {c.device for c in gpu} == {"gpu"} and max(c.n for c in gpu) == 10**7
    scaling = suites.expand(suites.load("scaling"))
    assert max(c.n for c in scaling if c.method == "numpyro_nuts") == 10**5
    assert max(c.n for c in scaling) == 10**6 and {c.model for c in scaling} == {"sparse_logistic", "logistic"}


def test_estimate_grows_with_n_and_is_capped_by_the_timeout():
    from harness.cell import Cell

    small, big = (Cell("sparse_logistic", "synthetic", n, "numpyro_nuts") for n in (1000, 1_000_000))
    assert suites.estimate_cell_s(big) > suites.estimate_cell_s(small) > 0
    assert suites.estimate_cell_s(big, timeout_s=60) == 60


def test_estimate_counts_an_ensembles_own_chains_a_subsample_and_nuts_steps_per_model():
    from harness.cell import Cell

    chees = Cell("sparse_logistic", "synthetic", 10000, "blackjax_chees")  # default: 128 chains
    few = Cell("sparse_logistic", "synthetic", 10000, "blackjax_chees", options={"num_chains": 16})
    assert suites.estimate_cell_s(chees) > 4 * (suites.estimate_cell_s(few) - 10)
    # HMCECS gradients are priced at the floor of its subsample (10 % of N), not of N
    ecs = Cell("sparse_logistic", "synthetic", 10**5, "numpyro_hmcecs")
    model = suites.costs()
    full = {**model, "method": {**model["method"], "numpyro_hmcecs": {
        **model["method"]["numpyro_hmcecs"], "subsample_fraction": 1.0}}}
    assert suites.estimate_cell_s(ecs) < 0.5 * suites.estimate_cell_s(ecs, model=full)
    # diamonds: NUTS runs near its tree-depth limit there; hand-rolled HMC's fixed L is unaffected
    d = "diamonds-diamonds"
    def steps_part(model, dataset):  # the estimate less its fixed part (startup, compile, floor)
        run, none = (Cell(model, dataset, 5000, "numpyro_nuts", num_warmup=w, num_samples=0) for w in (1000, 0))
        return suites.estimate_cell_s(run) - suites.estimate_cell_s(none)

    assert steps_part(d, "posteriordb") > 2.5 * steps_part("sparse_logistic", "synthetic")
    assert suites.estimate_cell_s(Cell(d, "posteriordb", 5000, "handrolled_hmc")) == pytest.approx(
        suites.estimate_cell_s(Cell("sparse_logistic", "synthetic", 5000, "handrolled_hmc")))


def test_nuts_steps_on_the_seed_target_grow_with_n():
    from harness.cell import Cell

    def variable(n):  # the part of the estimate that scales with steps x floor (warmup: no replays)
        fixed = Cell("sparse_logistic", "synthetic", n, "numpyro_nuts", num_warmup=0, num_samples=0)
        warm = Cell("sparse_logistic", "synthetic", n, "numpyro_nuts", num_warmup=1000, num_samples=0)
        return suites.estimate_cell_s(warm) - suites.estimate_cell_s(fixed)

    steps = {n: variable(n) / suites.floor_us(n, "cpu") for n in (569, 10**4, 10**5)}
    assert steps[569] < steps[10**4] < steps[10**5]
    assert steps[10**5] / steps[569] == pytest.approx(500 / 139, rel=1e-6)


def test_floor_model_interpolates_the_measured_points():
    pts = suites.costs()["floor"]["cpu"]["points"]
    for n, us in pts:
        assert suites.floor_us(n, "cpu") == pytest.approx(us)
    assert pts[0][1] < suites.floor_us(3000, "cpu") < pts[1][1]
    assert suites.floor_us(10**9, "cpu") == pytest.approx(pts[-1][1])  # held beyond the last point


def test_list_suites_shows_cells_and_estimate(capsys):
    assert cli.main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("quick"))
    assert "4 cells, estimated" in line and "min" in line


def test_unknown_suite_name():
    with pytest.raises(UsageError, match="unknown suite 'nope'; valid: .*quick"):
        suites.load("nope")


def test_estimate_adds_the_replay_protocol_to_the_sampling_loop():
    from harness import timing
    from harness.cell import Cell

    cell = Cell("sparse_logistic", "synthetic", 10000, "handrolled_hmc", num_warmup=0, num_samples=500)
    model = suites.costs()
    m = {**model["family"]["mcmc"], **model["method"].get("handrolled_hmc", {})}
    sample_s = 4 * 500 * m["grads_per_iter"] * suites.floor_us(10000, "cpu") * m["overhead"] * 1e-6
    fixed = model["process"]["cpu"]["startup_s"] + m["compile_s"] + model["process"]["cpu"]["floor_s"]
    work_s = m["compile_s"] + sample_s
    assert suites.estimate_cell_s(cell) == pytest.approx(fixed + sample_s + timing.replay_cost_s(sample_s, work_s, 1))



def test_estimate_doubles_a_cell_whose_loop_the_second_pass_runs_again():
    from harness import recheck, timing
    from harness.cell import Cell

    cell = Cell("eight_schools-eight_schools_noncentered", "posteriordb", None, "handrolled_hmc_tuned",
                num_warmup=0, num_samples=10)
    model = suites.costs()
    m = {**model["family"]["mcmc"], **model["method"].get("handrolled_hmc_tuned", {})}
    sample_s = 4 * 10 * m["grads_per_iter"] * suites.floor_us(None, "cpu") * m["overhead"] * 1e-6
    assert sample_s < recheck.SHORT_LOOP_S
    fixed = model["process"]["cpu"]["startup_s"] + m["compile_s"] + model["process"]["cpu"]["floor_s"]
    work_s = m["compile_s"] + sample_s
    assert suites.estimate_cell_s(cell) == pytest.approx(2 * (fixed + sample_s + timing.replay_cost_s(sample_s, work_s, 1)))


def test_shipped_suites_expand_to_the_golden_cells():
    """Every shipped suite expands to the cells it expanded to when the golden file was written (the
    typed options, the schema and the Cell/worker split changed none): same keys, so --resume and
    compare pair old rows with new ones. Regenerate: python tests/fixtures/make_suite_cells.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_suite_cells", Path(__file__).parent / "fixtures" / "make_suite_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.lines() == module.GOLDEN.read_text().splitlines()


def test_a_data_entry_sets_its_own_options_and_devices_under_the_cli():
    suite = {"methods": ["numpyro_nuts"], "options": {"numpyro_nuts": {"target_accept_prob": 0.9}},
             "data": [{"model": "sparse_logistic", "dataset": "synthetic", "sizes": [1000]},
                      {"model": "sparse_logistic", "dataset": "synthetic", "sizes": [1000], "xla_devices": 4,
                       "options": {"numpyro_nuts": {"chain_method": "parallel"}}}]}
    suites.check(suite, "t")
    vec, par = suites.expand(suite)
    assert vec.options["chain_method"] == "vectorized" and vec.xla_devices is None
    assert par.options["chain_method"] == "parallel" and par.xla_devices == 4
    assert vec.options["target_accept_prob"] == par.options["target_accept_prob"] == 0.9  # the suite's, kept
    cli = suites.expand(suite, options={"numpyro_nuts": {"chain_method": "sequential"}})  # the CLI wins
    assert {c.options["chain_method"] for c in cli} == {"sequential"}
    bad = {**suite, "data": [{**suite["data"][1], "options": {"numpyro_nuts": {"chain_method": "pmap"}}}]}
    with pytest.raises(UsageError, match=r"data\[0\].options.numpyro_nuts: .*must be one of vectorized"):
        suites.check(bad, "t")


def test_recheck_key_is_validated_and_a_suite_without_the_second_pass_is_priced_once():
    from harness.cell import Cell

    base = {"methods": ["handrolled_hmc"], "data": [{"model": "sparse_logistic"}]}
    with pytest.raises(UsageError, match="recheck must be true or false"):
        suites.check({**base, "recheck": "no"}, "t", False)
    assert suites.load("quick")["recheck"] is False  # the first look answers fast: no second pass
    short = Cell("eight_schools-eight_schools_noncentered", "posteriordb", None, "handrolled_hmc_tuned",
                 num_warmup=0, num_samples=10)
    once = suites.estimate_cell_s(short, rechecked=False)
    assert suites.estimate_cell_s(short) == pytest.approx(2 * once)  # a short loop's cell runs twice
    assert suites.estimate_s({**base, "recheck": False}, [short], 60.0) == pytest.approx(once)


def test_crossover_suite_scales_the_plain_logistic_regression_with_nuts_to_a_target_and_both_guides():
    cells = suites.expand(suites.load("crossover"))
    log = [c for c in cells if c.model == "logistic"]
    assert {c.dataset for c in log} == {"d30"} and sorted({c.n for c in log}) == [10**3, 10**4, 10**5, 10**6]
    for n in (10**3, 10**6):  # every method at every size, three seeds each
        assert sorted((c.method, c.seed) for c in log if c.n == n) == sorted(
            (m, s) for m in ("numpyro_nuts", "svi_autonormal", "svi_automvn") for s in (0, 1, 2))
    assert {c.target_ess for c in cells if c.method == "numpyro_nuts"} == {400.0}
    assert {c.target_ess for c in cells if c.method != "numpyro_nuts"} == {None}
    assert {c.model for c in cells} == {"logistic", "sparse_logistic"}


def test_a_warm_start_is_priced_as_two_more_runs_one_with_a_cold_compile():
    from harness.cell import Cell
    from harness.suites import cost_model

    cell = Cell("sparse_logistic", "breast_cancer", None, "numpyro_nuts")
    model = suites.costs()
    compile_s = {**model["family"]["mcmc"], **model["method"].get("numpyro_nuts", {})}["compile_s"]
    cold = suites.estimate_cell_s(cell, model=model, rechecked=False)
    warm = suites.estimate_cell_s(cell, model=model, rechecked=False, warm_start=True)
    # two more processes, each at least its start-up, one compiling cold and one reading the cache
    assert warm - cold > compile_s * (1 + cost_model.WARM_COMPILE_SHARE)
    assert warm < 3 * cold  # the second extra process does not pay the cold compile again
    suite = {"warm_start": True, "recheck": False}
    assert suites.estimate_s(suite, [cell], 600) == pytest.approx(warm)
    assert suites.estimate_s(suite, [cell], 600, warm_start=False) == pytest.approx(cold)
