"""The gallery's example scripts (examples/plot_*.py) run headless, and the gallery lists them.

The scripts train small networks for 5 to 20 s each, so running them is a slow test; the docs
build in CI (sphinx-gallery) runs them too.
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


def _gallery_order():
    spec = importlib.util.spec_from_file_location("_gallery_order",
                                                  ROOT / "docs" / "_gallery_order.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ORDER


def test_gallery_lists_every_example_once():
    assert EXAMPLES, "no examples/plot_*.py found"
    assert (ROOT / "examples" / "README.txt").is_file()  # sphinx-gallery needs it
    order = _gallery_order()
    assert sorted(order) == [p.name for p in EXAMPLES]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_has_a_title_and_a_figure(script):
    """sphinx-gallery reads the title from the docstring's first line, underlined by '='."""
    source = script.read_text(encoding="utf-8")
    lines = ast.get_docstring(ast.parse(source)).splitlines()
    assert lines[0].strip() and set(lines[1].strip()) == {"="}
    assert len(lines[1].strip()) >= len(lines[0].strip())
    assert "plt.show()" in source


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_headless(script, tmp_path):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
