"""Rebuild the Table 1 of nbs/results/paper (table.md, results.json, fs_plane.png, trajectory.png) from the stored runs.

    python tools/paper_table.py

The paper-schedule runs are stored, without checkpoints, as nbs/results/paper-run1, paper-run2, ... (one folder per
training of the five rows or some of them, each with runs/<model>-s14/); chapter 08's IAF and PixelVAE join the table
when a run of them is stored. Each row of the table takes the newest run in
which that model met the paper's stopping rule (patience 50), and when no run did, the run that trained it longest;
`results.json` names each row's folder in `sources`. The table itself is written by `tabulate_stored` (chapter 10)
from the folders' config, metrics and stored evaluations (K = 5000 on the fixed 1000 test images).
"""
import re
from pathlib import Path

from fae_book.cli import stored_status, tabulate_stored
from fae_book.experiments import BASELINE_MODELS, TABLE1_MODELS, run_folder

RESULTS = Path(__file__).resolve().parent.parent / "nbs" / "results"


def choose_runs(results=RESULTS, seed=14) -> dict:
    "Table 1 name -> the stored run folder the table takes it from (newest converged run, else the longest)."
    runs = sorted(results.glob("paper-run*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    chosen = {}
    for name in [*TABLE1_MODELS, *BASELINE_MODELS]:
        found = [(r / "runs" / run_folder(name, seed), i) for i, r in enumerate(runs) if (r / "runs" / run_folder(name, seed) / "metrics.jsonl").exists()]
        if not found and name in BASELINE_MODELS: continue       # chapter 08's rows join the table once a run of them is stored
        if not found: raise FileNotFoundError(f"no stored paper-schedule run of {name} under {results}/paper-run*/runs")
        status = {d: stored_status(d) for d, _ in found}
        converged = [(d, i) for d, i in found if status[d]["stopped_reason"] == "early_stopping"]
        chosen[name] = max(converged, key=lambda t: t[1])[0] if converged else max(found, key=lambda t: (status[t[0]]["epochs"], t[1]))[0]
    return chosen


if __name__ == "__main__":
    runs = choose_runs()
    for name, d in runs.items(): print(f"{name:10s} <- {d.relative_to(RESULTS)} ({stored_status(d)})")
    tabulate_stored(RESULTS / "paper", runs, k=5000, n_test=1000)
    print((RESULTS / "paper" / "table.md").read_text())
