"""The seed arguments of ``harness run``: a bad count or a seed named twice is one line, exit 2, nothing run."""

import pytest

from harness import cli


@pytest.mark.parametrize("argv, needle", [
    (["--seeds", "0"], "positive integer"),
    (["--seed", "3", "--seed", "3"], "seed(s) 3 given twice"),
    (["--seed", "0", "--seed", "1", "--seeds", "2"], "seed(s) 1 given twice"),  # 0,1 and 1,2 overlap
])
def test_bad_seeds_are_one_line_and_exit_code_2(argv, needle, capsys, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["run", *argv, "--dry-run", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness: error:") and needle in err
    assert not out.exists()


def test_distinct_seeds_pass():
    class Args:
        seed, seeds = [0, 5], 3

    assert cli._seeds(Args) == [0, 1, 2, 5, 6, 7]
