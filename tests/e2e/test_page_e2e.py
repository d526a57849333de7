"""End to end (issues 10 and 20): the page served on loopback, driven in headless Chromium with Playwright.

Not collected by `make test` (pyproject's norecursedirs); `make e2e` runs it. The educator's path: run the
default settings (and print how long the run took), pin the result, remove two strategies, run again,
see both side by side with at-risk numbers of a readable size, download the run's HTML report. The
planner's path: the capacity scenario's resources, waits and utilisation year by year. The analyst's path:
upload a bad scenario file (one line naming it) and a good one, and run it. Screenshots go to
outputs/e2e/ and, for README, to docs/images/ (app.png: before and after; app-capacity.png: the planner's view).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from simulator.reporting.style import DPI
from simulator.reporting.survival_figures import AT_RISK_FONTSIZE

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "simulator" / "app" / "streamlit_app.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "outputs" / "e2e"
README_IMAGES = ROOT / "docs" / "images"
SERVER_START_SECONDS = 90
RUN_SECONDS = 180  # a run on a shared two-core machine; the page's default run takes well under 20 s alone
REMOVED = ("watch-and-wait", "best-supportive-care")
# Text matching in Playwright ignores case: the pinned view's "...: overall survival (Kaplan-Meier" must not count.
FULL_WIDTH_CAPTION = re.compile(r"^Overall survival \(Kaplan-Meier")
VIEWPORT = {"width": 1600, "height": 1150}
POINTS_PER_INCH = 72
# The smallest on-screen height (CSS pixels, the font's em) at which the numbers at risk count as
# readable: 10 px is about the smallest text browsers default to (issue 20: they were about 5 px).
MIN_AT_RISK_PIXELS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--server.maxUploadSize",
        "1",
        "--server.fileWatcherType",
        "none",
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / "server.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Streamlit server did not start; see {OUT / 'server.log'}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server we started, and only it (its own session)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _run_and_wait(page, strategies: int) -> float:
    """Press Run; seconds until the results of ``strategies`` strategies are on the page."""
    from playwright.sync_api import expect

    started = time.perf_counter()
    page.get_by_role("button", name="Run", exact=True).click()
    # While Streamlit re-renders, the previous run's elements stay on the page (marked stale) next
    # to the new ones, so a caption can briefly be there twice: wait until the page has settled on
    # exactly one of each.
    # The run's own line (the before/after view repeats its first words beside the pinned result's).
    done = re.compile(rf"^{strategies} strategies x .* comes from the cache at once")
    expect(page.get_by_text(done)).to_have_count(1, timeout=RUN_SECONDS * 1000)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=RUN_SECONDS * 1000)
    expect(page.get_by_text(FULL_WIDTH_CAPTION)).to_have_count(1, timeout=RUN_SECONDS * 1000)
    return time.perf_counter() - started


def _at_risk_pixels(image) -> float:
    """On-screen height of the numbers at risk in a Kaplan-Meier image: their font size in the PNG
    (AT_RISK_FONTSIZE points at DPI) times the browser's scale of the image."""
    natural, shown = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    return AT_RISK_FONTSIZE * DPI / POINTS_PER_INCH * shown / natural


def _launch(playwright):
    # --no-sandbox: Chromium refuses to start its sandbox as root (CI containers).
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])


def _open(browser, server):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(server)
    page.get_by_text("Strategies to compare").wait_for(timeout=SERVER_START_SECONDS * 1000)
    return page


def _settle(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=RUN_SECONDS * 1000)
    page.wait_for_timeout(500)


def test_change_strategies_run_and_see_the_survival_curves(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM}: install Debian's chromium (make e2e does)"
    from playwright.sync_api import expect

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _open(browser, server)
            default_strategies = page.locator('[data-testid="stMultiSelect"] [data-tag]').count()
            assert default_strategies == 6  # scenarios/baseline.yaml

            default_seconds = _run_and_wait(page, default_strategies)
            page.get_by_role("button", name="Pin this result").click()
            page.get_by_text("This result is pinned").wait_for(timeout=60_000)

            for strategy in REMOVED:
                page.get_by_role("button", name=f"Remove {strategy}").click()
                page.wait_for_timeout(500)
            page.get_by_text("The settings have changed since this run").wait_for(timeout=60_000)
            changed_seconds = _run_and_wait(page, default_strategies - len(REMOVED))

            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stMultiSelect"] [data-tag]').count() == default_strategies - len(REMOVED)
            images = page.locator('[data-testid="stImage"] img')
            assert images.count() >= 5
            survival = page.get_by_text(FULL_WIDTH_CAPTION)
            assert survival.is_visible()

            # The pinned result beside the new one, each with its survival curves and headline table.
            expect(page.get_by_role("heading", name="Before and after")).to_have_count(1, timeout=RUN_SECONDS * 1000)
            before = page.locator('[data-testid="stImage"]').filter(has_text="Before (pinned)").locator("img")
            after = page.locator('[data-testid="stImage"]').filter(has_text="After (current)").locator("img")
            expect(before).to_have_count(1)
            expect(after).to_have_count(1)
            page.get_by_role("heading", name="Before and after").scroll_into_view_if_needed()
            page.wait_for_timeout(1000)  # let the images finish painting
            full_width = page.locator('[data-testid="stImage"]').filter(has_text=FULL_WIDTH_CAPTION).locator("img")
            at_risk = {"before": _at_risk_pixels(before), "after": _at_risk_pixels(after), "full width": _at_risk_pixels(full_width)}
            assert all(pixels >= MIN_AT_RISK_PIXELS for pixels in at_risk.values()), at_risk
            screenshot = OUT / "app.png"
            page.screenshot(path=str(screenshot))

            # The HTML report of this run, built on demand by the CLI's report writer.
            with page.expect_download(timeout=RUN_SECONDS * 1000) as download:
                page.get_by_role("button", name="report.html").click()
            report = Path(download.value.path()).read_text(encoding="utf-8")
            assert report.startswith("<!DOCTYPE html>") and "Strategy comparison: baseline" in report
            assert all(s not in report.split(">Strategies</h2>")[1].split("<h2")[0] for s in REMOVED)
        finally:
            browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copyfile(screenshot, README_IMAGES / "app.png")
    timings = {"default_run_seconds": round(default_seconds, 1), "changed_run_seconds": round(changed_seconds, 1)}
    _record(timings)
    print(f"\npage runs (click to results shown): {timings}; at-risk numbers on screen (px): {at_risk}; screenshot {screenshot}")


def _record(values: dict) -> None:
    path = OUT / "timings.json"
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    path.write_text(json.dumps({**known, **values}, indent=2) + "\n", encoding="utf-8")


def test_the_planner_runs_the_capacity_scenario(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _open(browser, server)
            page.locator('[data-testid="stSelectbox"]').filter(has_text="Scenario").click()
            page.get_by_role("option", name="capacity-constrained").click()
            expect(page.get_by_text("Theatre capacity (operating theatres available in parallel)")).to_have_count(1, timeout=60_000)
            _settle(page)
            started = time.perf_counter()
            page.get_by_role("button", name="Run", exact=True).click()
            heading = page.get_by_role("heading", name="Capacity and waiting (for planners)")
            expect(heading).to_have_count(1, timeout=RUN_SECONDS * 1000)
            _settle(page)
            seconds = time.perf_counter() - started
            assert page.locator('[data-testid="stException"]').count() == 0
            expect(page.get_by_text("year of the window")).to_have_count(1)
            expect(page.get_by_text("theatre queue of surgery-first is still growing", exact=False)).to_have_count(1)
            expect(page.get_by_text("Mean number of patients queued", exact=False)).to_have_count(1)
            heading.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            screenshot = OUT / "app-capacity.png"
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    shutil.copyfile(screenshot, README_IMAGES / "app-capacity.png")
    _record({"capacity_run_seconds": round(seconds, 1)})
    print(f"\ncapacity scenario (click to results shown): {seconds:.1f} s; screenshot {screenshot}")


def test_the_analyst_uploads_a_scenario_file(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nseed: 1\n", encoding="utf-8")
    data = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    data.update(name="mine", strategies=["surgery-first", "systemic-first"])
    good = tmp_path / "mine.yaml"
    good.write_text(yaml.safe_dump(data), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _open(browser, server)
            page.get_by_text("Upload a scenario file").click()
            upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
            upload.set_input_files(str(bad))
            expect(page.get_by_text("bad.yaml: cohort: expected this required field")).to_have_count(1, timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            upload.set_input_files(str(good))
            expect(page.get_by_text("mine.yaml: valid", exact=False)).to_have_count(1, timeout=60_000)
            # The success line is drawn before the strategy picker in the same rerun, and the
            # previous picker stays on the page (stale) until the new one replaces it: wait for it.
            _settle(page)
            expect(page.locator('[data-testid="stMultiSelect"] [data-tag]')).to_have_count(2, timeout=RUN_SECONDS * 1000)
            _run_and_wait(page, 2)
            assert page.locator('[data-testid="stException"]').count() == 0
            expect(page.get_by_text("mine: overall survival", exact=False)).to_have_count(
                0
            )  # no such caption: the figure's title is in the image
            with page.expect_download(timeout=RUN_SECONDS * 1000) as download:
                page.get_by_role("button", name="scenario.yaml").click()
            ran = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
        finally:
            browser.close()
    assert ran["name"] == "mine" and [s if isinstance(s, str) else s["name"] for s in ran["strategies"]] == data["strategies"]
