#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang with ASan + UBSan) and runs each for a while.
#
#   bash scripts/fuzz.sh [--seconds N] [--jobs J] [HARNESS...]
#
#   --seconds N  time per harness (default 30: the smoke run CI makes; docs/hardening.md records
#                the 10-minute runs, --seconds 600)
#   --jobs J     harnesses run at once (default: the number of cores)
#   HARNESS      idx cifar npy image export_info run_json checkpoint serve_query samples analysis study
#                activation run_log (default: all)
#
# Seeds are generated (fuzz/make_seeds.py); what a harness learns is kept in build-fuzz/corpus/NAME
# between runs. A crash, a leak, undefined behaviour, an uncaught exception or a refusal that is not
# one line leaves build-fuzz/findings/NAME/crash-* and fails the script; reproduce it with
#   build-fuzz/fuzz_NAME build-fuzz/findings/NAME/crash-...
# Example: bash scripts/fuzz.sh --seconds 600 --jobs 2 npy image
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30
jobs=$(nproc)
names=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: error: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
all=(idx cifar npy image export_info run_json checkpoint serve_query samples analysis study activation run_log)
((${#names[@]})) || names=("${all[@]}")
for n in "${names[@]}"; do
  [[ " ${all[*]} " == *" $n "* ]] || { echo "fuzz.sh: error: unknown harness $n (one of: ${all[*]})" >&2; exit 2; }
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: error: --seconds must be a whole number > 0, got $seconds" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: error: --jobs must be a whole number > 0, got $jobs" >&2; exit 2; }

out=build-fuzz
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$out/CMakeCache.txt" ]; then
  cmake -S fuzz -B "$out" "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$out" -j "$(nproc)" >/dev/null
/usr/bin/python3 fuzz/make_seeds.py "$out/seeds" >/dev/null

run_one() {
  local name="$1"
  mkdir -p "$out/corpus/$name" "$out/findings/$name"
  # -rss_limit_mb: a parser must not need more than 2 GB for a small input; -timeout: nor hang.
  if "$out/fuzz_$name" "$out/corpus/$name" "$out/seeds/$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/findings/$name/" \
      >"$out/findings/$name.log" 2>&1; then
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/findings/$name.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $name clean: $runs inputs in ${seconds} s, corpus $(ls "$out/corpus/$name" | wc -l) files"
  else
    echo "fuzz: $name FOUND A PROBLEM: $(grep -m1 -E 'ERROR|runtime error|fuzz: |deadly|Timeout|out-of-memory' "$out/findings/$name.log" || true)"
    echo "      inputs: $(ls "$out/findings/$name" | tr '\n' ' ')  log: $out/findings/$name.log"
    return 1
  fi
}

failed=0
pids=()
for name in "${names[@]}"; do
  run_one "$name" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
