"""The book's apparatus holds together: every key cited in a notebook's prose is in `nbs/references.bib`,
every entry there is cited somewhere, the site names the bibliography, and the notation page is in the
sidebar (after the landing page, before Part I) and linked from the landing page."""
import json, re
from pathlib import Path

import yaml

NBS = Path(__file__).resolve().parent.parent / "nbs"
BIB = NBS / "references.bib"

# What is not prose: fenced code, inline code spans, display and inline math, HTML comments, link targets.
_NOT_PROSE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|<!--.*?-->|\]\([^)\s]*\)|<https?://[^>]*>",
                        re.S)
_URL = re.compile(r"https?://\S+")
# Pandoc's citation: `@key`, `-@key`, alone or inside `[...; ...]`, never right after a word character
# (that is an e-mail address) or another `@`. Keys as this book writes them: [A-Za-z0-9_:-]+.
_CITE = re.compile(r"(?<![\w@.])-?@([A-Za-z0-9_][A-Za-z0-9_:-]*)")


def cited_keys(markdown: str) -> set:
    "The citation keys in one piece of markdown, ignoring code, math, e-mail addresses, URLs and Quarto cross-references (@fig-…)."
    prose = _URL.sub(" ", _NOT_PROSE.sub(" ", markdown))
    keys = {m.group(1).rstrip(":-") for m in _CITE.finditer(prose)}
    return {k for k in keys if not k.startswith(("fig-", "tbl-", "eq-", "sec-"))}


def bib_keys(text: str) -> list:
    "Entry keys of a BibTeX file, in order (duplicates kept, so a test can see them)."
    return [m.group(2) for m in re.finditer(r"^\s*@(\w+)\s*\{\s*([^,\s]+)\s*,", text, re.M)
            if m.group(1).lower() not in ("comment", "string", "preamble")]


def notebook_citations() -> dict:
    "Cited key -> the notebooks whose markdown cites it."
    where = {}
    for nb in sorted(NBS.glob("*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            if c["cell_type"] == "markdown":
                for k in cited_keys("".join(c["source"])): where.setdefault(k, set()).add(nb.name)
    return where


def test_parser():
    text = ("As shown [@stam1959some; @cover2006elements, ch. 17] and by @costa1985new: see `@property` "
            "and write to dev@fae-book.org; [-@dembo1989simple]. Code:\n```python\n@torch.no_grad()\n```\n"
            "Math $a@b$, a link [x](https://example.org/@user), @key_with-dash:2; see @fig-plane.")
    assert cited_keys(text) == {"stam1959some", "cover2006elements", "costa1985new", "dembo1989simple", "key_with-dash:2"}
    assert bib_keys("@comment{x,}\n@article{a1,\n title={t}}\n  @Book{ b-2 ,\n}") == ["a1", "b-2"]


def test_bibliography_keys_unique():
    keys = bib_keys(BIB.read_text())
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)


def test_every_citation_is_in_the_bibliography():
    missing = {k: sorted(nbs) for k, nbs in notebook_citations().items() if k not in set(bib_keys(BIB.read_text()))}
    assert not missing, f"cited but not in references.bib: {missing}"


def test_every_bibliography_entry_is_cited():
    unused = sorted(set(bib_keys(BIB.read_text())) - set(notebook_citations()))
    assert not unused, f"in references.bib but cited in no notebook: {unused}"


def test_site_names_the_bibliography():
    cfg = yaml.safe_load((NBS / "_quarto.yml").read_text())
    named = cfg.get("bibliography") or cfg.get("format", {}).get("html", {}).get("bibliography")
    assert named in ("references.bib", ["references.bib"]), named


def test_notation_page_in_sidebar_before_part_one():
    contents = yaml.safe_load((NBS / "sidebar.yml").read_text())["website"]["sidebar"]["contents"]
    assert contents[:2] == ["index.ipynb", "notation.ipynb"], contents[:3]
    assert isinstance(contents[2], dict) and contents[2]["section"].startswith("Part I:")
    cells = json.loads((NBS / "notation.ipynb").read_text())["cells"]
    assert any(c["cell_type"] == "markdown" and "".join(c["source"]).startswith("# ") for c in cells)
    index = "".join("".join(c["source"]) for c in json.loads((NBS / "index.ipynb").read_text())["cells"])
    assert "(notation.html)" in index
