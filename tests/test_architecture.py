"""The one-way flow, as imports: equations -> twins -> declaration -> FMI export -> master.

Checked on the source text (every ``import`` and ``from ... import``, at any depth of a module),
so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fmutwin"


def _imports(folder_or_file: Path) -> dict[str, set[str]]:
    files = [folder_or_file] if folder_or_file.is_file() else sorted(folder_or_file.rglob("*.py"))
    out = {}
    for path in files:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        out[str(path.relative_to(PACKAGE))] = names
    return out


@pytest.mark.parametrize("part, forbidden", [
    ("fmi", ("fmutwin.twins", "fmutwin.registry", "fmutwin.equations", "fmutwin.params", "fmutwin.reduction")),
    ("interface.py", ("fmutwin.twins", "fmutwin.fmi", "fmutwin.equations", "fmutwin.params", "fmutwin.registry")),
    ("equations", ("fmutwin.twins", "fmutwin.fmi", "fmutwin.params", "fmutwin.registry", "numpy", "casadi")),
    ("provenance.py", ("fmutwin.reduction", "fmutwin.twins", "fmutwin.params", "fmutwin.fmi")),
    ("twins", ("fmutwin.fmi", "fmutwin.registry")),
    # the master knows FMI through fmpy, and neither the batteries nor fmutwin's FMI export
    ("cosim", ("fmutwin.twins", "fmutwin.registry", "fmutwin.equations", "fmutwin.params", "fmutwin.reduction",
               "fmutwin.fmi", "fmutwin.pack_cosim", "fmutwin.ops")),
])
def test_layer_imports_nothing_downstream(part, forbidden):
    bad = {f: sorted(n for n in names if n.startswith(forbidden)) for f, names in _imports(PACKAGE / part).items()}
    assert not {f: n for f, n in bad.items() if n}, bad
