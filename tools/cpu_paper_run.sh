#!/usr/bin/env bash
# The CPU route for Table 1 at the paper's schedule, for one ~3-hour working session on two cores, started first thing:
#
#     setsid nohup bash tools/cpu_paper_run.sh [TRAIN_MINUTES] [OUT] [PRECISION] > paper_run.log 2>&1 < /dev/null &
#
# 1. trains the five Table 1 rows, seed 14, at the paper's schedule as one stack, for at most TRAIN_MINUTES
#    (default 120) in PRECISION (default bfloat16 where the CPU multiplies it in hardware: chapter 09 measured it
#    inside the seed-to-seed spread; float32 elsewhere);
# 2. evaluates every best state with K = 5000 on the fixed 1000-image subset (the table) and K = 1000 on all
#    10 000 test images, and the k-NN digit probe;
# 3. stores OUT without checkpoints in nbs/results/paper-PRECISION (tools/store_results.py).
# Checkpoints stay in OUT (default /work/runs/paper-PRECISION, outside the repository): the same command continues
# a run that a time limit stopped; finished members are not retrained and finished evaluations are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-120}
precision=${3:-$(python -c "import torch; from fae_book.training import bfloat16_supported; print('bfloat16' if bfloat16_supported(torch.device('cpu')) else 'float32')")}
out=${2:-/work/runs/paper-$precision}
export FAE_BOOK_DATA=${FAE_BOOK_DATA:-$(cd .. && pwd)/shared/data}
start=$(date +%s)
fae-book reproduce --profile paper --seeds 14 --precision "$precision" --k 5000 --n-test 1000 --out "$out" --time-limit "$minutes" --quiet
echo "training and K=5000 evaluation: $(( $(date +%s) - start )) s"
fae-book evaluate "$out"/runs/*-s14 --k 1000 --quiet
echo "K=1000 on all 10000 test images done: $(( $(date +%s) - start )) s"
python -c "import sys, glob; from fae_book.experiments import probe_run; [probe_run(d) for d in sorted(glob.glob(sys.argv[1] + '/runs/*-s14'))]" "$out"
python tools/store_results.py "$out" "paper-$precision"
echo "stored; wall seconds in all: $(( $(date +%s) - start ))"
