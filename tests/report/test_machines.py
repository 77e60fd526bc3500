"""A machine is part of a figure's identity: rows carry a fingerprint, older rows get one on reading,
and report and compare never put two machines into one table or ratio."""

import json

import pytest

from harness import UsageError, cli, environment
from harness.report import compare, frame, page

from tests.report.conftest import raw_rows

PARTS = dict(cpu="Intel(R) Xeon(R) Processor", cpu_count=2, memory=23, accel="none", jax="0.10.2", jaxlib="0.10.2",
             xla_flags="--xla_cpu_use_thunk_runtime=false")


def test_the_fingerprint_names_the_machine_and_changes_with_every_part():
    name = environment.machine_name(**PARTS)
    assert name.startswith("Intel(R) Xeon(R) Processor | 2 cores | 23 GiB | no accelerator | jax 0.10.2 #")
    assert environment.machine_name(**PARTS) == name  # stable
    for part, other in dict(cpu="AMD EPYC", cpu_count=4, memory=31, accel="NVIDIA H200", jax="0.9.0",
                            jaxlib="0.9.1", xla_flags="").items():
        assert environment.machine_name(**{**PARTS, part: other}) != name, part
    # the forced host device count (a cell's xla_devices) and the flags the runner gives every cell are
    # the harness's, not the machine's: a failed cell's row, written with the runner's XLA_FLAGS, matches
    forced = PARTS["xla_flags"] + " --xla_force_host_platform_device_count=4"
    assert environment.machine_name(**{**PARTS, "xla_flags": forced}) == name
    from harness.runner import BASE_XLA_FLAGS

    bare = environment.machine_name(**{**PARTS, "xla_flags": " ".join(BASE_XLA_FLAGS)})
    assert environment.machine_name(**{**PARTS, "xla_flags": ""}) == bare != name


def test_capture_records_the_machine_its_own_columns_give():
    env = environment.capture(with_device=False)
    assert env["machine"] == environment.machine_of({k: v for k, v in env.items() if k != "machine"})
    assert f"| {env['cpu_count']} cores | {env['memory_gib']} GiB |" in env["machine"]


def test_older_rows_get_a_fingerprint_and_a_gpu_hosts_cpu_and_gpu_cells_share_it(rows):
    assert "machine" not in raw_rows()  # written before the column
    assert rows["machine"].nunique() == 1 and set(rows["device"]) == {"cpu", "gpu"}
    assert "NVIDIA H100" in rows["machine"].iloc[0]  # from the GPU rows' device kind


def _write(path, df):
    path.mkdir(parents=True)
    (path / "rows.jsonl").write_text("".join(json.dumps({k: (None if v != v else v) for k, v in r.items()
                                                         if k != "cell_key"}) + "\n" for r in df.to_dict("records")))
    return path


def _small():
    raw = raw_rows()
    return raw[(raw["model"] == "sparse_logistic") & (raw["n"] == 1000) & (raw["device"] == "cpu")]


def test_a_report_over_two_machines_refuses_and_reports_one_when_named(tmp_path, capsys):
    raw = _small()
    two = raw.copy()
    two.loc[two["seed"] == 0, "cpu"] = "AMD EPYC 7763"
    run = _write(tmp_path / "run", two)
    with pytest.raises(UsageError, match="rows from 2 machines: AMD EPYC 7763 .* / Fixture CPU"):
        page.build(run, tmp_path / "out")
    assert cli.main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--machine NAME" in err and not (tmp_path / "out").exists()
    amd = frame.load(run).query("cpu == 'AMD EPYC 7763'")["machine"].iloc[0]
    page.build(run, tmp_path / "amd", machine=amd.split("#")[1])
    md = (tmp_path / "amd" / "report.md").read_text()
    top = md.splitlines()[2]
    assert top.startswith("machine: AMD EPYC 7763") and "Fixture CPU" not in md.split("## Commands")[0]
    assert f"{(two['seed'] == 0).sum()} rows" in md  # only that machine's rows
    assert "commit: 0123456789abcdef" in top and "measured 2026-11-21" in top
    with pytest.raises(UsageError, match="names 0 of the rows' machines"):
        page.build(run, tmp_path / "none", machine="#ffffffff")


def test_compare_refuses_two_machines_unless_allowed_and_says_so_at_the_top(tmp_path, capsys):
    raw = _small()
    base = _write(tmp_path / "base", raw)
    new = _write(tmp_path / "new", raw.assign(cpu="AMD EPYC 7763"))
    with pytest.raises(UsageError, match="different machines .*BASE on Fixture CPU.*NEW on AMD EPYC 7763"):
        compare.compare(base, new)
    assert cli.main(["compare", str(base), str(new), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--allow-machines" in err and not (tmp_path / "c").exists()
    assert cli.main(["compare", str(base), str(new), "--out", str(tmp_path / "c"), "--allow-machines"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("DIFFERENT MACHINES (--allow-machines)") and out[1].startswith("BASE (base): machine: Fixture")
    assert out[2].startswith("NEW (new): machine: AMD EPYC 7763")
    assert (tmp_path / "c" / "compare.md").read_text().startswith("DIFFERENT MACHINES")
    same = compare.compare(base, base)
    assert not any("DIFFERENT" in line for line in same.attrs["header"])
