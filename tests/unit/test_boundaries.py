"""Architecture rules: the engine never imports the UI, and importing it stays cheap."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dlcore_never_imports_streamlit_ui_or_pages() -> None:
    offenders = {str(p.relative_to(ROOT)): _imports(p) & {"streamlit", "ui", "app_pages"}
                 for p in (ROOT / "dlcore").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_ui_never_imports_pages() -> None:
    offenders = [str(p) for p in (ROOT / "ui").rglob("*.py") if "app_pages" in _imports(p)]
    assert offenders == []


def test_importing_dlcore_and_its_light_modules_does_not_import_tensorflow() -> None:
    code = ("import sys, dlcore, dlcore.data, dlcore.jobs, dlcore.store, dlcore.plots, dlcore.device, "
            "dlcore.models, dlcore.workspace, dlcore.errors; "
            "from dlcore.data import load_builtin; load_builtin('digits'); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_home_page_renders_without_tensorflow(tmp_path) -> None:
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            "at = AppTest.from_file('app.py', default_timeout=60); at.run(); assert not at.exception, at.exception; "
            "assert any('Interpretable deep learning' in t.value for t in at.title); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__('os').environ, "DLCORE_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
