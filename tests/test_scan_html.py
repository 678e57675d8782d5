"""scan.html in a real headless Chromium: the matrix, its colours, both filters, a cell's reasons."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES
from scanworld import build_world

from kresolve.index import IndexConfig
from kresolve.scan import Outcome, ScanOptions, TargetSpec, run_scan
from kresolve.scan.html import COLOURS

SCREENSHOT_COPY = Path(tempfile.gettempdir()) / "kresolve-scan-screenshot.png"  # /tmp on Linux: kept for people


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no Chromium/chromedriver here (Debian: apt-get install chromium chromium-driver)")
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = binary
    return webdriver.Chrome(options=options, service=Service(driver))


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, 1)"


def test_scan_html_matrix_filters_and_reasons_in_chromium(tmp_path):
    fleet = tmp_path / "fleet"
    for name in ("tf215-h5", "keras3-zip", "tf212-h5", "keras3-lambda"):
        shutil.copytree(FIXTURES / name, fleet / name)
    shutil.copytree(FIXTURES.parent / "malicious" / "raw-pickle-member", fleet / "pickled")
    policy = tmp_path / "p.toml"
    policy.write_text('[policy]\nname = "TF 2 stack"\n[[allow]]\npackage = "tensorflow"\nversions = ">=2.12,<2.16"\n'
                      'reason = "the validated Keras 2 stack"\n')
    options = ScanOptions(targets=(TargetSpec("3.11", "linux-64"), TargetSpec("3.12", "linux-64")), policy=str(policy),
                          index_config=IndexConfig(build_world(tmp_path / "world")), cache_root=str(tmp_path / "cache"))
    result, written = run_scan([fleet], options, tmp_path / "out")
    html = written.scan_html.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched
    browser = _browser()
    try:
        browser.get(written.scan_html.as_uri())
        rows = browser.find_elements("css selector", "tr.model-row")
        assert len(rows) == len(result.rows) == 5
        cells = browser.find_elements("css selector", "td.cell")
        assert len(cells) == 5 * 2
        for cell in cells:  # coloured by outcome
            outcome = Outcome(cell.get_attribute("data-outcome"))
            button = cell.find_element("css selector", ".cellbtn")
            assert button.value_of_css_property("background-color") == _rgb(COLOURS[outcome])
        assert browser.find_element("id", "shown-count").text == "5 of 5 models shown"
        # Filter by outcome: only the rows with a refused cell stay.
        from selenium.webdriver.support.ui import Select

        Select(browser.find_element("id", "outcome-filter")).select_by_value("refused")
        visible = [r for r in rows if r.is_displayed()]
        assert len(visible) == 1 and "pickled" in visible[0].text
        assert browser.find_element("id", "shown-count").text == "1 of 5 models shown"
        Select(browser.find_element("id", "outcome-filter")).select_by_value("")
        # Filter by text.
        box = browser.find_element("id", "text-filter")
        box.send_keys("keras3")
        visible = [r for r in rows if r.is_displayed()]
        assert len(visible) == 2 and all("keras3" in r.text for r in visible)
        box.send_keys("\b" * len("keras3"))  # typed away, as a user does (clear() fires no input event)
        assert len([r for r in rows if r.is_displayed()]) == 5
        # A cell opens to its reasons.
        tf212 = next(r for r in rows if "tf212-h5" in r.text)
        button = tf212.find_element("css selector", "td.cell .cellbtn")
        details = tf212.find_element("css selector", "td.cell .details")
        assert not details.is_displayed()
        button.click()
        assert details.is_displayed() and "route route-h5-keras2-tf.keras" in details.text
        assert "trained with 2.12.1" in details.text and "minor +3" in details.text
        assert button.get_attribute("aria-expanded") == "true"
        # Outside the policy: the Keras 3 models are unsolvable, and the cell says why.
        unsolvable = Outcome.UNSOLVABLE.value
        assert {c.get_attribute("data-outcome") for c in cells} == {"solved", unsolvable, "refused"}
        shot = tmp_path / "scan-screenshot.png"
        assert browser.save_screenshot(str(shot))
    finally:
        browser.quit()
    shutil.copyfile(shot, SCREENSHOT_COPY)
    print(f"scan.html screenshot: {shot} (copied to {SCREENSHOT_COPY})")
