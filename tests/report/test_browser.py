"""The HTML report as a person sees it: rendered by a real headless Chromium (Debian's chromium and
chromedriver, driven through Selenium), every folded section opened, every image loaded, the summary
table first. `.ci/run` installs the browser and sets HARNESS_REQUIRE_BROWSER=1, so there a missing
browser fails this test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from harness import report

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
            pytest.fail("HARNESS_REQUIRE_BROWSER=1 but chromium / chromedriver are not on PATH")
        pytest.skip("no chromium / chromedriver here (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1300,1800"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def test_the_report_renders_with_every_image_and_the_summary_first(browser, run_small, tmp_path):
    html = report.build(run_small, tmp_path)
    browser.get(html.as_uri())
    assert browser.title.startswith("harness report")
    first = browser.execute_script("return document.querySelector('table caption').textContent")
    assert first.startswith("Per target and size: the usable cell")  # the summary is the page's first table
    folds = browser.execute_script("const d = document.querySelectorAll('details'); d.forEach(x => x.open = true);"
                                   " return d.length")
    assert folds >= 5
    deadline = time.time() + 30
    while time.time() < deadline and not browser.execute_script(
            "return Array.from(document.images).every(i => i.complete)"):
        time.sleep(0.2)
    images = browser.execute_script("return Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(images) >= 5
    assert [src for src, width in images if not width] == []  # no broken image
    links = browser.execute_script("return Array.from(document.querySelectorAll('nav a')).map(a => a.hash)")
    assert links and all(browser.execute_script(f"return !!document.getElementById('{h[1:]}')") for h in links)
