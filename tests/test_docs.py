"""Every ```python block of the README and of the user guide runs (each page in one namespace)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path):
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def test_readme_has_examples_and_two_setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert python_blocks(ROOT / "README.md")
    first_bash = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert len(first_bash) == 2
    assert first_bash[0].endswith("sk-crnn demo")
    assert "pytest" in first_bash[1]


# The scaling page starts parallel worker processes (about 19 s): it runs with the slow tests.
SLOW_PAGES = {"scaling.md"}


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_PAGES else p
     for p in PAGES if python_blocks(p)],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the examples write land in a temporary folder
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(python_blocks(page)):
        code = compile(block, f"{page.name}[block {i}]", "exec")
        exec(code, namespace)  # noqa: S102
