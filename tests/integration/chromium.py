# SPDX-License-Identifier: ISC
"""Headless Chromium (Debian's chromium + chromium-driver) through
python3-selenium, for the page tests (test_dashboard, test_capture_page).

Skips when selenium is missing; fails, naming the package, when the
browser or its driver is. Every page load and script is bounded by
PAGE_TIMEOUT.
"""

import os

import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
PAGE_TIMEOUT = 20.0


def headless(tmp, window="1280,900"):
    """A new browser whose profile and driver log live in tmp."""
    webdriver = pytest.importorskip(
        "selenium.webdriver",
        reason="python3-selenium is in DEPS_TEST (make deps)")
    from selenium.webdriver.chrome.service import Service
    for path in (CHROMEDRIVER, CHROMIUM):
        assert os.access(path, os.X_OK), \
            f"{path} missing: apt-get install chromium chromium-driver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--disable-background-networking",
              f"--window-size={window}", f"--user-data-dir={tmp / 'chromium'}"):
        opts.add_argument(a)
    svc = Service(executable_path=CHROMEDRIVER,
                  log_path=str(tmp / "chromedriver.log"))
    drv = webdriver.Chrome(service=svc, options=opts)
    drv.set_page_load_timeout(PAGE_TIMEOUT)
    drv.set_script_timeout(PAGE_TIMEOUT)
    return drv
