"""Suites: TOML files that list the axes of a benchmark matrix, and what running one costs.

Shipped suites live beside this module (``quick``, ``default``, ``scaling``,
``gpu``); a user's suite is a path to a ``.toml`` file. Keys (only
``methods`` and ``data`` are required)::

    description = "..."
    methods = ["handrolled_hmc", "numpyro_nuts"]   # registry names, or selectors: "family:mcmc",
                                                   # "library:blackjax", "*", "-numpyro_sa" (leave out)
    chains = [4]                                   # axes: one cell per entry ...
    seeds = [0]
    devices = ["cpu"]                              # cpu, gpu
    precisions = ["float32"]                       # float32, float64
    num_warmup = 500                               # scalars
    num_samples = 500
    timeout_s = 1800                               # per-cell wall-clock cap
    target_ess = 400                               # run to this ESS in chunks of num_samples
    max_draws = 16000                              #   (harness.methods.to_target), up to max_draws
    xla_devices = 4                                # forced host devices (CPU)
    cpus = 1                                       # cores per CPU cell's process, or "all" (default 1)
    jobs = "all"                                   # cells at once (harness.runner.LocalExecutor; default "all")
    warm_start = false                             # also time each cell with the persistent cache filled
    recheck = true                                 # the run's second pass (harness.recheck; --no-recheck: off)

    [[data]]                                       # one entry per model/dataset
    model = "sparse_logistic"
    dataset = "synthetic"                          # default: the model's first dataset
    sizes = [2000]                                 # for datasets without a fixed N
    methods = ["numpyro_nuts"]                     # optional: only these of `methods`
    chains = [4]                                   # optional: num_warmup, num_samples, timeout_s too
    precisions = ["float64"]                       # optional: this entry's precisions (CLI overrides)
    xla_devices = 4                                # optional: this entry's forced host devices
    [data.options.numpyro_nuts]                    # optional: this entry's method options, over the
    chain_method = "parallel"                      #   suite's (so one suite can sweep an option)

    [options.handrolled_hmc]                       # a method's options (validated by the method)
    num_steps = 10

    [settings.numpyro_nuts]                        # a method's run settings
    max_n = 100000                                 # skip sizes above (a method that does not scale)
    num_warmup = 300                               # also: num_samples, chains, timeout_s

Cells are data x sizes x methods x devices x precisions x chains x seeds.
Precedence, highest first: CLI flags, ``settings.<method>``, the data entry,
the top level. Any malformed key (unknown, wrong type, unknown model, method
or device, empty axis) is a :class:`harness.UsageError` naming the key.

The package's modules: :mod:`~harness.suites.spec` (reading and checking a file),
:mod:`~harness.suites.resolve` (the precedence rule, timeouts, jobs),
:mod:`~harness.suites.expansion` (the cells) and :mod:`~harness.suites.cost_model` (the duration
estimate: a cost model, not a measurement; its constants and their provenance are in
``_costs.toml``). Their public names are importable from here.
"""

from harness.suites.cost_model import COSTS_FILE, costs, estimate_cell_s, estimate_s, floor_us
from harness.suites.expansion import expand
from harness.suites.resolve import DEFAULT_JOBS, jobs, pick, timeout_for
from harness.suites.spec import AXES, DATA, DEFAULT_CPUS, DEVICES, SCALARS, SETTINGS, TOP, check, load, names

__all__ = [
    "AXES", "COSTS_FILE", "DATA", "DEFAULT_CPUS", "DEFAULT_JOBS", "DEVICES", "SCALARS", "SETTINGS", "TOP", "check",
    "costs", "estimate_cell_s", "estimate_s", "expand", "floor_us", "jobs", "load", "names", "pick", "timeout_for",
]
