"""The HTML report: rendered from a real toy grid, opened in headless Chromium (Debian's package).

The browser test checks that every table and image loads, that sorting by a column works and that the console
has no error, and keeps a screenshot in ``test-artifacts/`` (git-ignored) for a person to look at.
"""

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.runner import plan_run, run_plan
from harness.store import Store

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOY_METHODS = ["toy-centroid", "toy-centroid-shrunk", "toy-noop"]  # the built-in ones, not the fault methods


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_root):
    results = tmp_path_factory.mktemp("report-results")
    plan = plan_run("toy", budget="default", data_root=data_root, method_names=TOY_METHODS)
    summary = run_plan(plan, Store(results), progress=False, n_jobs=2)
    assert summary.counts == {"ok": len(plan.jobs)}
    assert main(["report", "toy", "--budget", "default", "--results", str(results)]) == 0
    return results / "report"


def test_the_page_is_self_contained_and_says_what_is_significant(report):
    page = (report / "toy-default.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert page.count("data:image/png;base64,") == 2  # the CD diagram and the scatter (toy draws no figure)
    for text in ("Friedman test over 4 blocks", "critical-difference diagram", "Paired comparisons", "≈ best",
                 "Quality against cost", "budget", "fingerprint", "commit", "device", "weights", "95 % interval"):
        assert text in page, text
    index = (report / "index.html").read_text()
    assert 'href="toy-default.html"' in index


def test_a_bad_level_is_refused_with_what_to_pass(report, capsys):
    results = report.parent
    assert main(["report", "toy", "--budget", "default", "--results", str(results), "--alpha", "2"]) == 2
    assert "--alpha must lie in (0, 0.5)" in capsys.readouterr().err
    assert main(["report", "toy", "--budget", "paper", "--results", str(results)]) == 2
    assert "no results of track 'toy' under budget 'paper'" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (Debian: apt-get install chromium); CI installs it")
def test_the_page_loads_in_headless_chromium(report):
    sync_api = pytest.importorskip("playwright.sync_api")
    errors, failed_requests = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: failed_requests.append(request.url))
            for name in ("index.html", "toy-default.html"):
                page.goto((report / name).as_uri(), wait_until="load")
                assert page.locator("table").count() >= 1
            n_tables = page.locator("table").count()
            assert n_tables >= 5
            sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
            assert len(sizes) >= 2 and all(complete and width > 0 for complete, width in sizes), sizes
            table = page.locator("table#headline-toy_blobs")
            header = table.locator("th", has_text="brier")
            header.click()
            first_ascending = table.locator("tbody tr").first.locator("td").nth(1).inner_text()
            header.click()
            first_descending = table.locator("tbody tr").first.locator("td").nth(1).inner_text()
            assert first_descending == "toy-noop" and first_ascending != first_descending  # worst Brier score
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-toy.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert not failed_requests, failed_requests
    assert (ARTIFACTS / "report-toy.png").stat().st_size > 20_000
