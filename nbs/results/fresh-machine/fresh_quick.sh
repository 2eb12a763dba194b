# Issue 10: the README's two commands on a fresh clone, timed (cores otherwise idle).
set -euo pipefail
rm -rf /tmp/fresh && git clone -q /work/main /tmp/fresh && cd /tmp/fresh
python -m venv /tmp/fresh/.venv && . /tmp/fresh/.venv/bin/activate
s=$(date +%s); pip install -q -e . > /tmp/fresh_install.log 2>&1; echo "pip install -e .: $(( $(date +%s) - s )) s"
s=$(date +%s); fae-book reproduce --quiet > /tmp/fresh_reproduce.log 2>&1; echo "fae-book reproduce: $(( $(date +%s) - s )) s"
tail -15 /tmp/fresh_reproduce.log
python -c "import torch, platform; print(torch.__version__, torch.get_num_threads())"; grep -m1 "model name" /proc/cpuinfo
