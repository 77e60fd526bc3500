#!/usr/bin/env bash
# One lent GPU session for issue 34, in three parts that each fit the device tool's 10-minute command:
#
#   bash benchmarks/gpu/session.sh compile OUT   # cold vs warm time to result (benchmarks/gpu/compile.toml)
#   bash benchmarks/gpu/session.sh chains OUT    # vectorized vs sequential chains (benchmarks/gpu/chains.toml)
#   bash benchmarks/gpu/session.sh floor OUT     # the floor with a static inner loop (benchmarks/floor_unroll.py)
#
# Run from the checkout's root with the harness importable; rows go under OUT/<part>, then
# `harness report OUT/<part>` here. --dry-run after OUT lists the cells and estimates, and runs the floor
# probe on the CPU at N = 569 only, so the script is checked on a machine without a GPU (tests/benchmarks).
set -euo pipefail
part="${1:?part: compile, chains or floor}"
out="${2:?OUT: the directory the rows go to}"
dry="${3:-}"
cd "$(dirname "$0")/../.."
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.3   # the cache of a cell's process is small; leave the device room
harness=(python -m harness.cli)
run=(run --no-recheck --quiet)
[[ "$dry" == "--dry-run" ]] && run+=(--dry-run)
# a part cut short by the command's limit keeps its rows: calling it again resumes where it stopped
[[ "$part" != floor && -s "$out/$part/rows.jsonl" ]] && run+=(--resume)
case "$part" in
    compile) timeout 560 "${harness[@]}" "${run[@]}" --suite benchmarks/gpu/compile.toml --out "$out/compile" ;;
    chains)  timeout 560 "${harness[@]}" "${run[@]}" --suite benchmarks/gpu/chains.toml --out "$out/chains" ;;
    floor)
        mkdir -p "$out/floor"
        if [[ "$dry" == "--dry-run" ]]; then
            JAX_PLATFORMS=cpu python -m benchmarks.floor_unroll --sizes 569 --inner 1,10 --repeats 1 --out "$out/floor/floor.json"
        else
            timeout 560 python -m benchmarks.floor_unroll --sizes 10000,100000,1000000 --inner 1,10 --out "$out/floor/floor.json"
        fi ;;
    *) echo "session.sh: part must be compile, chains or floor, got '$part'" >&2; exit 2 ;;
esac
