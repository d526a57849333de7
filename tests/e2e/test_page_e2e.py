"""End to end (issue 10): the page served on loopback, driven in headless Chromium with Playwright.

Not collected by `make test` (pyproject's norecursedirs); `make e2e` runs it. It runs the default
settings once (and prints how long the run took), removes two strategies, runs again, checks that
the survival curves are shown for the new set, saves a screenshot to outputs/e2e/app.png and
downloads the run's HTML report.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "simulator" / "app" / "streamlit_app.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "outputs" / "e2e"
SERVER_START_SECONDS = 90
RUN_SECONDS = 180  # a run on a shared two-core machine; the page's default run takes well under 20 s alone
REMOVED = ("watch-and-wait", "best-supportive-care")


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
    expect(page.get_by_text(f"{strategies} strategies x", exact=False)).to_have_count(1, timeout=RUN_SECONDS * 1000)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=RUN_SECONDS * 1000)
    expect(page.get_by_text("Overall survival (Kaplan-Meier", exact=False)).to_have_count(1, timeout=RUN_SECONDS * 1000)
    return time.perf_counter() - started


def test_change_strategies_run_and_see_the_survival_curves(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM}: install Debian's chromium (make e2e does)"
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium refuses to start its sandbox as root (CI containers).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1150})
            page.goto(server)
            page.get_by_text("Strategies to compare").wait_for(timeout=SERVER_START_SECONDS * 1000)
            default_strategies = page.locator('[data-testid="stMultiSelect"] [data-tag]').count()
            assert default_strategies == 6  # scenarios/baseline.yaml

            default_seconds = _run_and_wait(page, default_strategies)

            for strategy in REMOVED:
                page.get_by_role("button", name=f"Remove {strategy}").click()
                page.wait_for_timeout(500)
            page.get_by_text("The settings have changed since this run").wait_for(timeout=60_000)
            changed_seconds = _run_and_wait(page, default_strategies - len(REMOVED))

            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stMultiSelect"] [data-tag]').count() == default_strategies - len(REMOVED)
            images = page.locator('[data-testid="stImage"] img')
            assert images.count() >= 5
            survival = page.get_by_text("Overall survival (Kaplan-Meier", exact=False)
            assert survival.is_visible()
            page.get_by_role("heading", name="Survival").scroll_into_view_if_needed()
            page.wait_for_timeout(1000)  # let the images finish painting
            screenshot = OUT / "app.png"
            page.screenshot(path=str(screenshot))

            # The HTML report of this run, built on demand by the CLI's report writer.
            with page.expect_download(timeout=RUN_SECONDS * 1000) as download:
                page.get_by_role("button", name="report.html").click()
            report = Path(download.value.path()).read_text(encoding="utf-8")
            assert report.startswith("<!DOCTYPE html>") and "Strategy comparison: baseline" in report
            assert all(s not in report.split("<h2>Strategies</h2>")[1].split("<h2>")[0] for s in REMOVED)
        finally:
            browser.close()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    timings = {"default_run_seconds": round(default_seconds, 1), "changed_run_seconds": round(changed_seconds, 1)}
    (OUT / "timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    print(f"\npage runs (click to results shown): {timings}; screenshot {screenshot}")
