"""The layers hold (STYLE rule 14, issue #8): measured from the imports.

proctor base (settings, database, clock, errors, web auth) ← hub ← webrtc,
exam_api ← the wiring (``proctor/app.py``, ``proctor/cli.py`` …). No import
runs back up; the hub imports neither the exam API nor the ingest; those two
do not import each other; nothing but the shell imports the wiring; and no
component is looked up by string outside it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("proctor", "hub", "exam_api", "webrtc")
# the shell: the proctor modules that build the app out of the packages
SHELL = {"proctor.app", "proctor.cli", "proctor.server", "proctor.body_limits"}
# who may import whom (besides itself and the proctor base)
ALLOWED = {
    "hub": set(),
    "webrtc": {"hub"},
    "exam_api": {"hub"},
    "proctor": set(),  # the base
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _modules() -> dict[str, tuple[Path, set[str]]]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = (path, _imports(path))
    return out


def test_no_import_runs_back_up() -> None:
    broken = []
    for module, (_, imports) in _modules().items():
        if module in SHELL:
            continue
        package = module.split(".")[0]
        for imported in imports:
            target = imported.split(".")[0]
            if target == package:
                continue
            if (
                target == "proctor"
                and imported not in SHELL
                and not imported.startswith("proctor.app")
            ):
                continue  # the base, shared by every package
            if target not in ALLOWED[package]:
                broken.append(f"{module} -> {imported}")
    assert broken == []


def test_nothing_imports_the_wiring() -> None:
    importers = [
        f"{module} -> {imported}"
        for module, (_, imports) in _modules().items()
        if module not in SHELL
        for imported in imports
        if imported in SHELL
    ]
    assert importers == []


def test_the_base_imports_no_package() -> None:
    base = {
        module: sorted(i for i in imports if i.split(".")[0] != "proctor")
        for module, (_, imports) in _modules().items()
        if module.startswith("proctor") and module not in SHELL
    }
    assert {m: i for m, i in base.items() if i} == {}


def test_no_component_is_looked_up_by_string() -> None:
    lookup = re.compile(r"components\s*\[|\.components\.get\(")
    found = [
        str(path.relative_to(ROOT))
        for module, (path, _) in _modules().items()
        if module not in SHELL and lookup.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_rule_catches_an_arrow_back_up(tmp_path: Path) -> None:
    # the check itself: a hub module importing the exam API is found
    path = tmp_path / "bad.py"
    path.write_text("from exam_api.auth import require_role\n", encoding="utf-8")
    assert _imports(path) == {"exam_api.auth"}
    assert "exam_api" not in ALLOWED["hub"]
