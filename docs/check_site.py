"""Check the built documentation in a real browser (headless Chromium).

Serves ``docs/_build/html`` on localhost, opens every page in headless Chromium through
Selenium, and fails when

- a page does not load (an HTTP error, or a page without a title or body),
- a page or resource of the site answers with an HTTP error (a script, a style sheet, ...),
- an image is broken (not loaded, or zero pixels wide),
- an internal link points to a file that does not exist, or to an anchor (``#id``) that the
  target page does not have.

Links to other sites are listed but not followed (CI has no internet, and external hosts are
blocked in the browser). Then it takes full-page screenshots of the index and of one example
page of the gallery, in ``docs/_build/screenshots/``.

Run it after the build, from the repository root::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    python docs/check_site.py

It needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``) and ``pip install selenium``. Without Chromium the check is skipped
(exit 0) with a message saying so; ``--require-browser`` makes that an error instead.
"""

import argparse
import functools
import http.server
import shutil
import socketserver
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

DOCS = Path(__file__).resolve().parent
SITE = DOCS / "_build" / "html"
SHOTS = DOCS / "_build" / "screenshots"
SCREENSHOT_PAGES = {"index.png": "index.html",
                    "example.png": "auto_examples/plot_event_detection.html"}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)

# Run in the page after it has loaded: make lazy images load, then report what the page has.
_PAGE_REPORT = """
const done = arguments[arguments.length - 1];
document.querySelectorAll('img[loading="lazy"]').forEach(img => { img.loading = 'eager'; });
const started = Date.now();
(function wait() {
  const images = Array.from(document.images);
  const loading = document.readyState !== 'complete' || images.some(img => !img.complete);
  if (loading && Date.now() - started < 15000) {
    setTimeout(wait, 100);
    return;
  }
  done({
    url: location.href,
    readyState: document.readyState,
    title: document.title,
    bodyText: document.body ? document.body.innerText.length : 0,
    brokenImages: images.filter(img => !img.complete || img.naturalWidth === 0)
                        .map(img => img.currentSrc || img.src),
    nImages: images.length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.name),
    failedResources: performance.getEntriesByType('resource')
        .filter(r => r.responseStatus >= 400).map(r => r.name + ' (' + r.responseStatus + ')'),
  });
})();
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _find(names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def _serve(root):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _status(url):
    """HTTP status of a URL of the local server (HEAD)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _driver(browser, chromedriver, width=1280, height=1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars",
                # Only the local server: other hosts fail at once instead of timing out.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def _visit(driver, url, tries=3):
    """Open ``url`` and return the page's report (``_PAGE_REPORT``).

    Now and then, on a busy machine, the browser hands back a blank document right after
    ``get`` (no title, no body, though the server sent the page); such a page is opened
    again, up to ``tries`` times, before it counts as not loading. ``report["attempts"]``
    says how many opens it took.
    """
    for attempt in range(1, tries + 1):
        driver.get(url)
        report = driver.execute_async_script(_PAGE_REPORT)
        report["attempts"] = attempt
        if report["title"] and report["bodyText"] and report["url"].split("#")[0] == url:
            break
    return report


def _screenshot(driver, url, path):
    """A full-page PNG of ``url``: the window is resized to the page's height first."""
    _visit(driver, url)  # waits for the images
    for _ in range(2):  # the page reflows at the new size: measure it again
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(max(height, 800), 12000))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def check_site(site, browser, chromedriver, screenshots=SHOTS):
    """Visit every page of ``site``; return a list of problems (empty when all is well)."""
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if "_sources" not in p.parts and "_static" not in p.parts)
    if "index.html" not in pages:
        return [f"{site} has no index.html; build the docs first."]
    server, base = _serve(site)
    problems, links, anchors, external, reopened = [], {}, {}, set(), 0
    driver = _driver(browser, chromedriver)
    try:
        for page in pages:
            url = base + page
            status = _status(url)
            if status != 200:
                problems.append(f"{page}: HTTP {status}")
                continue
            report = _visit(driver, url)
            reopened += report["attempts"] > 1
            if not report["title"] or report["bodyText"] == 0:
                problems.append(f"{page}: did not load (no title or an empty body; the "
                                f"browser is at {report['url']}, {report['readyState']})")
            problems += [f"{page}: broken image {src}" for src in report["brokenImages"]]
            # Chrome asks every site for /favicon.ico by itself: not a link of the site's.
            # A failed image is already reported above.
            problems += [f"{page}: resource failed {r}" for r in report["failedResources"]
                         if r.startswith(base) and not r.startswith(base + "favicon.ico")
                         and r.rsplit(" (", 1)[0] not in report["brokenImages"]]
            anchors[page] = set(report["ids"])
            for href in report["links"]:
                if href.startswith(base):
                    links.setdefault(href, set()).add(page)
                elif urlsplit(href).scheme in ("http", "https"):
                    external.add(href)
        for href, sources in sorted(links.items()):
            target, fragment = urldefrag(href)
            path = unquote(urlsplit(target).path).lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            where = ", ".join(sorted(sources)[:3]) + (" ..." if len(sources) > 3 else "")
            if path in anchors:
                if fragment and unquote(fragment) not in anchors[path]:
                    problems.append(f"broken anchor {path}#{fragment} (linked from {where})")
            elif _status(base + path) != 200:
                problems.append(f"broken link {path} (linked from {where})")
        for name, page in SCREENSHOT_PAGES.items():
            if page not in pages:
                problems.append(f"cannot take the screenshot {name}: {page} was not built")
                continue
            _screenshot(driver, base + page, screenshots / name)
    finally:
        driver.quit()
        server.shutdown()
    n_links = len(links)
    print(f"check_site: {len(pages)} pages ({reopened} opened more than once), {n_links} "
          f"internal links, {len(external)} external links (not followed), screenshots in "
          f"{screenshots}", flush=True)
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=SITE, help="the built HTML (default: "
                        "docs/_build/html)")
    parser.add_argument("--require-browser", action="store_true",
                        help="fail instead of skipping when Chromium is not installed")
    args = parser.parse_args(argv)
    browser, chromedriver = _find(BROWSERS), _find(DRIVERS)
    if browser is None or chromedriver is None:
        missing = " and ".join(n for n, p in [("chromium", browser),
                                               ("chromedriver", chromedriver)] if p is None)
        message = (f"check_site: SKIPPED, {missing} not found: the built site was NOT checked "
                   "in a browser. Install them with `apt-get install -y chromium "
                   "chromium-driver`.")
        print(message, file=sys.stderr)
        return 1 if args.require_browser else 0
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("check_site: needs selenium; run `pip install selenium`.", file=sys.stderr)
        return 1
    problems = check_site(args.site.resolve(), browser, chromedriver)
    for problem in problems:
        print(f"check_site: {problem}", file=sys.stderr)
    if problems:
        print(f"check_site: FAILED, {len(problems)} problems", file=sys.stderr)
        return 1
    print("check_site: every page loads, no broken link, anchor, resource or image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
