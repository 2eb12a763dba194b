"""Rebuild the Table 1 of nbs/results/paper (table.md, results.json, fs_plane.png, trajectory.png) from its run folders.

    python tools/paper_table.py

Each row reads nbs/results/paper/runs/<model>-s14: config.json, metrics.jsonl, eval_test_k5000_n1000.json and its
per-image NLLs (`tabulate_stored`, chapter 10). A row trained again in a later session replaces its folder there
(stored without checkpoints by tools/store_results.py), and this rebuilds the table around it.
"""
from pathlib import Path

from fae_book.cli import tabulate_stored
from fae_book.experiments import TABLE1_MODELS, run_folder

if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent / "nbs" / "results" / "paper"
    summary = tabulate_stored(root, {m: root / "runs" / run_folder(m, 14) for m in TABLE1_MODELS}, k=5000, n_test=1000)
    print((root / "table.md").read_text())
