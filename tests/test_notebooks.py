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


# --- Rendering hazards and the chapter apparatus (review 3.2, 3.1, 5.5) ---------------------------
import re

from nbdev.doclinks import nbpath2html

NBS_DIR = Path(__file__).resolve().parent.parent / "nbs"
ALL_NBS = sorted(NBS_DIR.glob("*.ipynb"))  # the chapters plus index and notation: all render as pages


def _markdown(nb):
    "(index, source) of every markdown cell of the notebook dict `nb`."
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]


def stray_h1_lines(nb):
    "Lines after a markdown cell's first line that start with '# ' outside a fenced code block: Quarto renders each as an H1."
    bad = []
    for i, src in _markdown(nb):
        fence = None
        for j, line in enumerate(src.split("\n")):
            stripped = line.lstrip()
            if fence is None and stripped[:3] in ("```", "~~~"):
                fence = stripped[:3]
            elif fence is not None and stripped.startswith(fence):
                fence = None
            elif fence is None and j > 0 and line.startswith("# "):
                bad.append((i, line[:80]))
    return bad


_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|href=[\"']([^\"']+)[\"']")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def site_pages(nbs_dir=NBS_DIR):
    "Names of the pages the site renders: nbdev drops a notebook's number prefix (`00_fisher_information.ipynb` -> `fisher_information.html`)."
    return {nbpath2html(p).name for p in nbs_dir.glob("*.ipynb")} | {p.with_suffix(".html").name for p in nbs_dir.glob("*.qmd")}


def dead_links(nb, pages):
    "Relative markdown links to an `.html` page not in `pages`, or to an `.ipynb` file (the site has none)."
    bad = []
    for i, src in _markdown(nb):
        for m in _LINK.finditer(src):
            target = m.group(1) or m.group(2)
            if _SCHEME.match(target) or target.startswith("#"):
                continue
            path = target.split("#")[0].split("?")[0]
            if path.endswith(".ipynb") or (path.endswith(".html") and Path(path).name not in pages):
                bad.append((i, target))
    return bad


_EXERCISE = re.compile(r"^#+ Exercise \d", re.M)


def apparatus_problems(nb):
    "What a chapter lacks of the apparatus: a '## Summary' cell, then at least 3 exercises, each with a collapsed solution."
    md = _markdown(nb)
    summary = next((i for i, src in md if src.startswith("## Summary")), None)
    if summary is None:
        return ["no markdown cell starts with '## Summary'"]
    problems = []
    before = [i for i, src in md if i < summary and (_EXERCISE.search(src) or 'collapse="true"' in src)]
    if before:
        problems.append(f"exercise or solution before the summary in cells {before}")
    after = [src for i, src in md if i > summary]
    n_ex = sum(len(_EXERCISE.findall(src)) for src in after)
    n_sol = sum(src.count('collapse="true"') for src in after)
    if n_ex < 3:
        problems.append(f"{n_ex} exercises after the summary, want at least 3")
    if n_sol < n_ex:
        problems.append(f"{n_sol} collapsed solutions for {n_ex} exercises")
    return problems


@pytest.mark.parametrize("nb", ALL_NBS, ids=lambda p: p.name)
def test_no_paragraph_renders_as_h1(nb):
    "Only a page's title cell may open with '# '; a later '# ' line becomes a giant heading and a TOC entry."
    assert stray_h1_lines(json.loads(nb.read_text())) == []


@pytest.mark.parametrize("nb", ALL_NBS, ids=lambda p: p.name)
def test_relative_links_resolve(nb):
    "Every relative link names a page the site renders, e.g. `(models.html)`, never `(04_models.ipynb)`."
    assert dead_links(json.loads(nb.read_text()), site_pages()) == []


@pytest.mark.parametrize("nb", NBS, ids=lambda p: p.name)
def test_chapter_apparatus(nb):
    "Every chapter ends with a summary, then at least three exercises, each with a folded solution."
    assert apparatus_problems(json.loads(nb.read_text())) == []


def _nb(*cells):
    return {"cells": [{"cell_type": kind, "source": src} for kind, src in cells]}


def test_checks_catch_constructed_defects():
    "Each check above fails on a small notebook that has the defect, and passes its repaired twin."
    assert stray_h1_lines(_nb(("markdown", "Intro\n# not a heading"))) == [(0, "# not a heading")]
    assert stray_h1_lines(_nb(("markdown", "# 00 · Title\n\nText"), ("markdown", "```python\nx = 1\n# a comment\n```"),
                              ("code", "x = 1\n# a comment"), ("markdown", "Intro\n## a heading\n#not a heading"))) == []
    pages = {"models.html", "index.html", "notation.html"}
    assert dead_links(_nb(("markdown", "see [09](nonexistent.html)")), pages) == [(0, "nonexistent.html")]
    assert dead_links(_nb(("markdown", "see [09](nonexistent.html#sec)")), pages) == [(0, "nonexistent.html#sec")]
    assert dead_links(_nb(("markdown", "see [04](04_models.ipynb)")), pages) == [(0, "04_models.ipynb")]
    assert dead_links(_nb(("markdown", "[a](models.html#the-vae), [b](https://x.org/y.html), [c](#local), "
                                       "[d](https://colab.research.google.com/github/o/r/blob/main/nbs/04_models.ipynb)")), pages) == []
    assert {"fisher_information.html", "models.html", "index.html", "notation.html", "reproduction.html"} <= site_pages()
    exercise = lambda k: ("markdown", f"### Exercise {k} · Something")
    solution = ("markdown", '::: {.callout-tip collapse="true"}\n## Solution\n\nDone.\n:::')
    good = [("markdown", "## Summary\n\nIdeas."), exercise(1), solution, exercise(2), solution, exercise(3), solution]
    assert apparatus_problems(_nb(*good)) == []
    assert apparatus_problems(_nb(*good[1:])) == ["no markdown cell starts with '## Summary'"]
    assert apparatus_problems(_nb(*good[:5])) == ["2 exercises after the summary, want at least 3"]
    assert apparatus_problems(_nb(*good[:-1])) == ["2 collapsed solutions for 3 exercises"]
    assert apparatus_problems(_nb(exercise(0), solution, *good))[0].startswith("exercise or solution before the summary")


# --- Numbered, captioned figures (review 3.8, 5.6) --------------------------------------------------
import yaml


def figure_problems(nb):
    "Figures stored without a label, figure labels that repeat, lack a string `fig-cap` or do not parse as Quarto's YAML cell options, and `@fig-` references to no label."
    problems, labels = [], []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        head = [l[3:] for l in "".join(c["source"]).split("\n") if l.startswith("#| ")]
        if not any(l.startswith("label: fig-") for l in head):
            if any("image/png" in o.get("data", {}) for o in c.get("outputs", [])):
                problems.append(f"cell {i}: draws a figure without a label and caption")
            continue
        try: opts = yaml.safe_load("\n".join(l for l in head if not l.startswith(("export", "hide", "exporti", "exports"))))
        except yaml.YAMLError as e:
            problems.append(f"cell {i}: cell options are not YAML ({e.problem})"); continue
        labels.append(opts["label"])
        if not isinstance(opts.get("fig-cap"), str) or not opts["fig-cap"].strip():
            problems.append(f"cell {i}: {opts['label']} has no fig-cap")
    problems += [f"label {l} used twice" for l in sorted({l for l in labels if labels.count(l) > 1})]
    for i, src in _markdown(nb):
        problems += [f"cell {i}: @{ref} names no figure" for ref in re.findall(r"@(fig-[\w-]*\w)", src) if ref not in labels]
    return problems


@pytest.mark.parametrize("nb", ALL_NBS, ids=lambda p: p.name)
def test_figure_labels_and_references(nb):
    "Every labelled figure has a caption, labels are unique in their page, and every @fig- reference resolves."
    assert figure_problems(json.loads(nb.read_text())) == []


def test_figure_check_catches_constructed_defects():
    fig = lambda label, cap='"A caption."': ("code", f"#| label: {label}\n#| fig-cap: {cap}\nplt.plot([1, 2])")
    assert figure_problems(_nb(fig("fig-a"), ("markdown", "As @fig-a shows."))) == []
    assert figure_problems(_nb(fig("fig-a"), fig("fig-a"))) == ["label fig-a used twice"]
    assert figure_problems(_nb(("code", "#| label: fig-a\nplt.plot([1])"))) == ["cell 0: fig-a has no fig-cap"]
    assert figure_problems(_nb(fig("fig-a", '"unclosed'))) [0].startswith("cell 0: cell options are not YAML")
    assert figure_problems(_nb(fig("fig-a"), ("markdown", "See @fig-b."))) == ["cell 1: @fig-b names no figure"]
    drawn = _nb(("code", "plt.plot([1])"))
    drawn["cells"][0]["outputs"] = [{"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}]
    assert figure_problems(drawn) == ["cell 0: draws a figure without a label and caption"]
