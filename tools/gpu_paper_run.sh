#!/usr/bin/env bash
# The GPU route for Table 1 at the paper's schedule, as one command for the device tool (see its README):
#     bash tools/gpu_paper_run.sh [TRAIN_MINUTES]        (default 6; the whole script stays under 9 minutes)
# Installs the working tree on the machine's own PyTorch, prints the device, trains the five Table 1 models x seeds
# 14, 15, 16 as one stack with a time limit, evaluates every model (K = 5000 on all 10000 test images once a model
# has stopped, the interim K = 200 on 1000 before), and packs configs, metrics, evaluations, per-image NLLs, table,
# figures and the log into $OUT as one tar.gz (no checkpoints). Not yet run on a GPU: no build so far was lent one.
set -euo pipefail
minutes=${1:-6}
out=${OUT:-/tmp/fae_out}; mkdir -p "$out"
work=/tmp/fae_paper; mkdir -p "$work"
log="$out/run.log"
{
  pip install --no-deps -e . >/dev/null
  python -c "import torch; print('device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  start=$(date +%s)
  fae-book reproduce --profile paper --out "$work" --time-limit "$minutes" --device auto --quiet
  echo "wall seconds: $(( $(date +%s) - start ))"
} > "$log" 2>&1 || echo "reproduce failed, see run.log" >> "$log"
tar -czf "$out/paper_results.tar.gz" -C "$work" --exclude='*.pt' --exclude='.*.tmp' . 2>>"$log" || true
ls -l "$out" >> "$log"
