#!/usr/bin/env bash
# The live overfitting alarm's cost during `train` (bench/RESULTS.md): simple-cnn on 2,000 Fashion-MNIST
# images with 20 % label noise, 10 epochs, one thread, trained with each alarm set in turn, each
# REPEAT times, interleaved; the whole command's wall time per epoch and the alarm's share of it.
#   bench/run_live_alarm_bench.sh [BIN] [REPEAT] [SETS...]
# SETS: --signals values (default: none live train_loss,weight_alpha gsnr,eb_criterion,gradient_disparity)
set -euo pipefail
bin=${1:-build/filterscope}
repeat=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(none live train_loss,weight_alpha gsnr,eb_criterion,gradient_disparity)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A times
for ((r = 0; r < repeat; r++)); do
  for s in "${sets[@]}"; do
    rm -rf "$work/run"
    start=$(date +%s.%N)
    "$bin" train --train-size 2000 --val-size 2000 --epochs 10 --label-noise 0.2 --threads 1 --seed 1 \
      --signals "$s" --quiet --out "$work/run" > /dev/null
    end=$(date +%s.%N)
    times[$s]+="$(echo "($end - $start) / 10" | bc -l) "
  done
done
base=$(echo ${times[none]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
for s in "${sets[@]}"; do
  sorted=$(echo ${times[$s]} | tr ' ' '\n' | sort -g)
  min=$(echo "$sorted" | head -1); max=$(echo "$sorted" | tail -1)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  share=$(echo "100 * ($med - $base) / $base" | bc -l)
  printf '%-45s %6.3f / %6.3f / %6.3f s per epoch   %+5.1f %% of an epoch without the alarm (medians)\n' "--signals $s" "$min" "$med" "$max" "$share"
done
