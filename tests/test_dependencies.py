"""The package's declared dependencies are exactly the third-party modules it imports: a declared but unused
dependency costs every user an install, an undeclared one breaks a fresh install."""
import ast, sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")         # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent
MODULE_OF = {"scikit-learn": "sklearn"}          # distributions whose import name differs from their name


def _declared():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [d.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip() for d in deps]
    return {MODULE_OF.get(n, n.replace("-", "_")) for n in names}


def _imported():
    found = set()
    for f in (ROOT / "fae_book").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import): found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"fae_book", "__future__"}


def test_every_dependency_is_imported_and_every_import_declared():
    assert _declared() == _imported(), (f"declared but never imported: {sorted(_declared() - _imported())}; "
                                        f"imported but not declared: {sorted(_imported() - _declared())}")
