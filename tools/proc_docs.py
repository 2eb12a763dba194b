"""Run nbdev's docs preprocessing (what `nbdev-proc-nbs` does) through its Python API, without Quarto."""
import sys
from pathlib import Path

from nbdev.config import get_config
from nbdev.doclinks import _build_modidx
from nbdev.serve import proc_nbs


def main(n_workers=2):
    "Process every notebook into `_proc/` and check that each one produced a page."
    cfg = get_config()
    _build_modidx()
    cache = Path(proc_nbs(cfg.nbs_path, n_workers=n_workers, force=True))
    nbs = sorted(p.name for p in Path(cfg.nbs_path).glob('*.ipynb'))
    missing = [n for n in nbs if not (cache/n).exists()]
    if missing: sys.exit(f'docs preprocessing produced no page for: {", ".join(missing)}')
    print(f'docs preprocessing: {len(nbs)} notebooks processed into {cache}')


if __name__ == '__main__': main()
