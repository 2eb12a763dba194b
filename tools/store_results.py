"""Copy a results folder written by `fae-book reproduce` into nbs/results/NAME, without the checkpoints.

    python tools/store_results.py reproduce_results quick

Keeps table.md, results.json, the figures, and each run's config.json, metrics.jsonl, resumed.jsonl, eval_*.json,
per-image nll_*.npy, probe_knn.json and stored codes (codes_*.npz): every number the book prints about the experiments
is read from these files. Checkpoints (*.pt) are never copied.
"""
import shutil, sys
from pathlib import Path

KEEP = ("*.md", "*.json", "*.jsonl", "*.png", "*.npy", "*.npz")


def store(src, name):
    src, dest = Path(src), Path(__file__).resolve().parent.parent / "nbs" / "results" / name
    if not (src / "results.json").exists(): sys.exit(f"{src} holds no finished reproduce run (no results.json)")
    if dest.exists(): shutil.rmtree(dest)
    for pattern in KEEP:
        for f in src.rglob(pattern):
            (dest / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest / f.relative_to(src))
    print(f"stored {sum(1 for _ in dest.rglob('*') if _.is_file())} files in {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    store(*sys.argv[1:])
