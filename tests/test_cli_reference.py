"""``harness reference``: the sd agreement flag and ``--audit`` of the shipped reference files."""

import json

import numpy as np
import pytest

from harness import cli, reference_runs
from harness.targets import reference


def _site(sd: float, se_sd: float) -> dict:
    return {"x": {"shape": [1], "mean": [0.0], "sd": [sd], "se_mean": [0.01], "se_sd": [se_sd]}}


def _two_samplers(sd_b: float) -> dict:
    """A reference document whose second sampler's sd is ``sd_b`` against the first's 1.0 (se_sd 0.03 each)."""
    return {"sites": _site(1.0, 0.03), "samplers": [{"method": m, "sites": _site(sd, 0.03)}
                                                   for m, sd in (("numpyro_nuts", 1.0), ("blackjax_nuts", sd_b))]}


def test_audit_prints_a_line_per_shipped_file_and_fails_on_a_disagreement(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reference, "package_dir", lambda: tmp_path)
    old = {"sites": _site(1.0, 0.03), "samplers": [{"method": "numpyro_nuts"}, {"method": "blackjax_nuts"}],
           "agreement": {"max_z_mean": 1.0, "max_z_sd": 4.6}}
    for name, doc in (("logistic/old.json", old), ("logistic/agree.json", _two_samplers(1.1)),
                      ("sparse_logistic/far.json", _two_samplers(1.3))):  # sds 2.4 and 7.1 joint errors apart
        reference_runs.write(doc, tmp_path / name)
    assert cli.main(["reference", "--audit"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["logistic/agree.json", "logistic/old.json",
                                                      "sparse_logistic/far.json"]
    assert lines[0].startswith("logistic/agree.json: PASS: sds at most 2.4 joint Monte Carlo errors apart (x[0]; limit 4)")
    assert lines[1].startswith("logistic/old.json: NO EVIDENCE: no per-sampler moments: recompute to audit")
    assert "sds up to 4.6 joint errors apart" in lines[1]
    assert lines[2] == "sparse_logistic/far.json: FAIL: the two samplers disagree: x[0] sds 7.1 Monte Carlo " \
                       "errors apart (at most 4)"
    assert cli.main(["reference", "--audit", "logistic"]) == 0  # one target's files
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert cli.main(["reference", "--audit", "--agree-sd-z", "8"]) == 0  # the caller's limit
    assert "within 8" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["reference", "--agree-sd-z", "0"], "argument --agree-sd-z: expected a positive finite number, got '0'"),
    (["reference", "eight_schools_noncentered", "--agree-sd-z", "nan"], "argument --agree-sd-z"),
    (["reference", "eight_schools_noncentered", "--agree-sd-z", "inf"], "argument --agree-sd-z"),
    (["reference"], "reference: give a TARGET (see `harness list models`), or --audit"),
    (["reference", "--audit", "nope"], "unknown model 'nope'"),
])
def test_bad_reference_input_is_one_line_exit_2(argv, needle, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("sampled before checking its input")

    monkeypatch.setattr(reference_runs, "_run_all", never)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err


def _iid_runs(scale: float):
    """Stand-in samplers: iid N(0, 1) draws, the second run's times ``scale``."""
    rng = np.random.default_rng(0)

    def run(post, method, accept, *, num_chains, num_samples, **_):
        x = rng.standard_normal((num_chains, num_samples, 1))
        return {"x": x * (scale if method == "blackjax_nuts" else 1.0)}, 0, 0.1

    return run


def test_samplers_whose_sds_disagree_are_refused_with_their_figures_kept(tmp_path, capsys, monkeypatch):
    # 8,000 iid draws a run: se(sd) = sd / sqrt(16,000), so a 10 % wider run is about 9 joint errors off
    monkeypatch.setattr(reference_runs, "_run", _iid_runs(1.1))
    out = tmp_path / "ref.json"
    argv = ["reference", "ill_conditioned_gaussian", "--chains", "4", "--samples", "2000", "--min-ess", "100",
            "--out", str(out)]
    assert cli.main(argv) == 1
    assert "x[0] sds" in capsys.readouterr().err and not out.exists()
    failed = json.loads((tmp_path / "ref.failed.json").read_text())
    assert failed["agreement"]["max_z_sd"] > reference_runs.AGREE_SD_Z == failed["thresholds"]["agree_sd_z"]
    assert any("sds" in f for f in failed["failures"])
    assert [len(r["sites"]["x"]["se_sd"]) for r in failed["samplers"]] == [1, 1]  # the evidence, kept
    # the flag moves the limit; the written file carries it
    assert cli.main([*argv, "--agree-sd-z", "30"]) == 0
    assert json.loads(out.read_text())["thresholds"]["agree_sd_z"] == 30.0


def test_the_flag_default_is_the_modules():
    args = cli.build_parser().parse_args(["reference", "logistic"])
    assert args.agree_sd_z == reference_runs.AGREE_SD_Z and args.audit is False
