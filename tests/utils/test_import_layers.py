"""Layering: the shared utilities and the config package never import the family registry (no import cycles)."""
import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LOWER_LAYERS = ["lib/utils", "lib/config"]


def family_imports(path: pathlib.Path) -> list[str]:
    """Every import of lib.families in a file, at any depth (functions included), and any module name string
    naming it (importlib.import_module("lib.families...") would hide the import from the statements)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("lib.families")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("lib.families") or (node.module == "lib" and
                                                          any(a.name == "families" for a in node.names)):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                (node.value == "lib.families" or node.value.startswith("lib.families.")):
            found.append(f"{node.lineno}: string {node.value!r}")
    return found


@pytest.mark.parametrize("folder", LOWER_LAYERS)
def test_lower_layers_do_not_import_the_families(folder):
    offenders = [f"{path.relative_to(REPO)}:{hit}" for path in sorted((REPO / folder).rglob("*.py"))
                 for hit in family_imports(path)]
    assert not offenders, "lib.families imported from a lower layer:\n" + "\n".join(offenders)


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from lib.families import get_family\n    from lib import families\n"
                      "    import lib.families.stark\n    importlib.import_module('lib.families.x')\n")
    assert [hit.split(":")[0] for hit in family_imports(sample)] == ["2", "3", "4", "5"]
