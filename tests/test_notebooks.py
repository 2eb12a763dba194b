"Every chapter opens in Colab from its own badge and installs the package there before its first import of it."
import json
from pathlib import Path

import pytest

NBS = sorted((Path(__file__).resolve().parent.parent / "nbs").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("nb", NBS, ids=lambda p: p.name)
def test_colab_badge_and_install_cell(nb):
    cells = [("".join(c["source"]), c["cell_type"]) for c in json.loads(nb.read_text())["cells"]]
    title = next(s for s, kind in cells if kind == "markdown" and s.startswith("# "))
    assert f"https://colab.research.google.com/github/fae-book/fae_book/blob/main/nbs/{nb.name}" in title
    install = next(i for i, (s, _) in enumerate(cells) if "%pip install -q git+https://github.com/fae-book/fae_book" in s)
    assert cells[install][0].startswith("#| hide") and "except ImportError" in cells[install][0]
    first_import = next((i for i, (s, kind) in enumerate(cells)
                         if kind == "code" and ("from fae_book" in s or "import fae_book" in s) and i != install), len(cells))
    assert install < first_import


@pytest.mark.parametrize("nb", NBS, ids=lambda p: p.name)
def test_title_carries_the_chapter_number(nb):
    "The text says 'chapter 05'; the page title (and so the sidebar) says 05 too."
    cells = json.loads(nb.read_text())["cells"]
    title = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("# "))
    assert title.startswith(f"# {nb.name[:2]} · "), title.splitlines()[0]
