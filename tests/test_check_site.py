"""docs/check_site.py, the browser check of the built docs, finds what it is meant to find.

The check itself runs in CI after the docs build; here it runs on a tiny made-up site with
one good page and one page with a broken image, a broken link and a broken anchor.
"""

import base64
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A 1 x 1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAH"
                       "ggJ/PchI7wAAAABJRU5ErkJggg==")


def _check_site():
    spec = importlib.util.spec_from_file_location("check_site", ROOT / "docs" / "check_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(title, body):
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"


def test_skips_loudly_without_chromium(monkeypatch, capsys):
    module = _check_site()
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    assert module.main([]) == 0
    assert "SKIPPED" in capsys.readouterr().err
    assert module.main(["--require-browser"]) == 1


def test_finds_broken_images_links_and_anchors(tmp_path):
    pytest.importorskip("selenium")
    module = _check_site()
    browser, driver = module._find(module.BROWSERS), module._find(module.DRIVERS)
    if browser is None or driver is None:
        pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    site = tmp_path / "html"
    (site / "auto_examples").mkdir(parents=True)
    (site / "pic.png").write_bytes(PNG)
    (site / "index.html").write_text(_page("Home", (
        '<h1 id="top">Home</h1><img src="pic.png"><a href="auto_examples/'
        'plot_event_detection.html#ok">example</a><a href="https://example.org/">out</a>')))
    (site / "auto_examples" / "plot_event_detection.html").write_text(_page("Example", (
        '<p id="ok">fine</p><img src="../missing.png"><a href="../nowhere.html">x</a>'
        '<a href="../index.html#no-such-id">y</a><a href="../index.html#top">z</a>')))
    shots = tmp_path / "shots"

    problems = module.check_site(site, browser, driver, screenshots=shots)

    assert len(problems) == 3, problems
    assert any("broken image" in p and "missing.png" in p for p in problems)
    assert any(p.startswith("broken link nowhere.html") for p in problems)
    assert any(p.startswith("broken anchor index.html#no-such-id") for p in problems)
    assert (shots / "index.png").read_bytes()[:4] == b"\x89PNG"
    assert (shots / "example.png").is_file()


def test_a_missing_index_is_a_problem(tmp_path):
    # Found before the browser starts, so this needs no Chromium.
    problems = _check_site().check_site(tmp_path, "chromium", "chromedriver")
    assert problems == [f"{tmp_path} has no index.html; build the docs first."]
