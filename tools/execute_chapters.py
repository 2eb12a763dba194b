"""Execute chapters in place so that the site shows what the code draws now, then clean them.

    python tools/execute_chapters.py nbs/02_fisher_shannon.ipynb [nbs/09_reproduction.ipynb ...]

`nbdev-test` runs every chapter but saves nothing, so a figure whose code changed keeps its old picture on the site
until the chapter is executed again. Each notebook runs from its own folder (relative paths as in nbdev-test), with
figures saved as plain PNG at matplotlib's default resolution (Jupyter's retina setting would double every image's
size in the repository), and stops at the first error, leaving the notebook as it was.
"""
import os, subprocess, sys
from pathlib import Path

from execnb.shell import CaptureShell


def execute(path):
    path = Path(path).resolve()
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        shell = CaptureShell(mpl_format="png")
        shell.execute(path, dest=path, exc_stop=True)     # raises on the first cell that fails, before writing
    finally: os.chdir(cwd)
    subprocess.run(["nbdev-clean", "--fname", str(path)], check=True)
    print(f"executed {path.name}")


if __name__ == "__main__":
    if len(sys.argv) < 2: sys.exit(__doc__)
    for p in sys.argv[1:]: execute(p)
