#!/usr/bin/env bash
# The whole asv loop on this machine, against the current Python environment
# (asv.conf.json: "environment_type": "existing").
#
#   benchmarks/asv_loop.sh [COMMIT ...]      default: HEAD
#
# For each COMMIT (oldest first): check it out in a scratch git worktree, run
# this checkout's benchmark suite against THAT commit's harness (asv passes
# ASV_PYTHONPATH to the benchmark processes as PYTHONPATH), and save the
# results under results/asv/ labelled with the commit (--set-commit-hash: with an
# existing environment asv saves nothing without it). Then publish the site to
# results/html/ and compare the last two commits given.
#
# Environment:
#   ASV             asv command (default: asv)
#   ASV_RUN_ARGS    extra arguments for `asv run`, e.g. "--bench StepCost" or
#                   "-a repeat=3" (default: none)
#   ASV_MACHINE     machine name to record under (default: asv's, the hostname)
#   ASV_CPU_AFFINITY  cores the benchmark processes are held to (asv's --cpu-affinity;
#                   default: the last usable core, as a harness cell is held,
#                   README "One core per CPU cell"; "none" leaves them free)
#
# View the site: `asv preview` (serves results/html/ on http://127.0.0.1:8080),
# or open results/html/index.html through any static web server.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
asv=${ASV:-asv}
machine_args=()
[[ -n "${ASV_MACHINE:-}" ]] && machine_args=(--machine "$ASV_MACHINE")
read -r -a run_args <<< "${ASV_RUN_ARGS:-}"
affinity=${ASV_CPU_AFFINITY:-$(python -c "from harness.environment import usable_cpus; print(usable_cpus()[-1])")}
[[ "$affinity" != none ]] && run_args+=(--cpu-affinity "$affinity")

$asv machine --yes "${machine_args[@]}"

commits=("$@")
[[ ${#commits[@]} -eq 0 ]] && commits=(HEAD)
shas=()
worst=0
scratch=""
trap '[[ -n "$scratch" ]] && git worktree remove --force "$scratch" 2>/dev/null' EXIT
for commit in "${commits[@]}"; do
    sha=$(git rev-parse --verify "${commit}^{commit}")
    shas+=("$sha")
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/asv-loop-XXXXXX")
    git worktree add --detach --quiet "$scratch" "$sha"
    echo "asv_loop: measuring ${sha:0:8} (harness from $scratch)"
    status=0
    ASV_PYTHONPATH="$scratch" $asv run --python=same --set-commit-hash="$sha" \
        "${machine_args[@]}" "${run_args[@]}" || status=$?
    git worktree remove --force "$scratch"
    scratch=""
    # asv exits 2 when a benchmark failed; what did run is saved: go on, report it at the end.
    [[ $status -eq 0 ]] || { echo "asv_loop: asv run for ${sha:0:8} exited $status" >&2; worst=$status; }
done

$asv publish
if [[ ${#shas[@]} -ge 2 ]]; then
    # Exits 0 even when it lists regressions: read its output (or add --factor / --split).
    $asv compare "${machine_args[@]}" "${shas[-2]}" "${shas[-1]}"
fi
exit "$worst"
