"""In headless Chromium: pages usable at 1280 and 390 px wide (no horizontal overflow), and the Requester
website's export safe once ``${var}`` is substituted the way the website does (no script runs)."""

import csv
import html
import re
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException, UnexpectedAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tasks_inputs_factory import CLASSES, make_inputs, small_spec  # noqa: E402  (tests/preview/conftest.py)

from studykit.tasks import build_batch  # noqa: E402

WIDTHS = (1280, 390)
OVERFLOW = "return [document.documentElement.scrollWidth, window.innerWidth]"


def _loaded(driver):
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("study", ["simulatability", "spurious", "misclassification"])
def test_pages_fit_the_width(browser, servers, study, width):
    server = servers[study]
    browser.set_window_size(width, 900)
    browser.switch_to.default_content()
    browser.get(f"{server.url}hit/t00000?mode=accept&workerId=ANARROW")
    _loaded(browser)
    frame_width, inner = browser.execute_script(OVERFLOW)
    assert inner <= width and frame_width <= inner, f"the preview frame overflows at {width}px"
    assert browser.find_element(By.CSS_SELECTOR, 'meta[name="viewport"]')
    browser.switch_to.frame(browser.find_element(By.ID, "hit-frame"))
    _loaded(browser)
    scroll, inner = browser.execute_script(OVERFLOW)
    assert scroll <= inner, f"the {study} page is {scroll}px wide in a {inner}px frame at {width}px"
    assert browser.find_element(By.CSS_SELECTOR, 'meta[name="viewport"]')
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "on the left" not in text and "on the right" not in text
    browser.switch_to.default_content()


def _substitute(template: str, row: dict[str, str]) -> str:
    """The Requester website's substitution: each ${column} replaced by the cell, verbatim."""
    return re.sub(r"\$\{(\w+)\}", lambda m: row[m.group(1)], template)


@pytest.fixture(scope="module")
def requester_batch(tmp_path_factory):
    """A spurious batch with every class pair (so the class named <script>... is on a page)."""
    root = tmp_path_factory.mktemp("requester")
    return build_batch(small_spec("spurious", make_inputs(root / "inputs"), n_pairs=6), root / "batch")


def _load(driver, page: Path) -> bool:
    """Open ``page``; whether it raised an alert (every alert dismissed)."""
    alerted = False
    try:
        driver.get(page.as_uri())
    except UnexpectedAlertPresentException:        # WebDriver dismisses the first one and reports it
        alerted = True
    for _ in range(50):                            # the markup may be on the page several times
        try:
            driver.switch_to.alert.dismiss()
            alerted = True
        except NoAlertPresentException:
            break
    return alerted


def test_requester_export_runs_no_script(browser, requester_batch, tmp_path):
    template = (requester_batch / "requester_ui" / "template.html").read_text(encoding="utf-8")
    with open(requester_batch / "requester_ui" / "input.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    markup = CLASSES[2]
    row = next(r for r in rows if html.escape(markup) in (r["class_a"], r["class_b"]))
    assert markup not in "".join(row.values())                       # escaped in input.csv
    browser.set_window_size(1280, 900)
    for name, cells, scripts in (("escaped", row, 0),
                                 # the same row unescaped (what the export wrote before): the check can fail
                                 ("raw", {k: html.unescape(v) for k, v in row.items()}, 1)):
        page = tmp_path / f"{name}.html"
        page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><form>"
                        + _substitute(template, cells) + "</form></body></html>", encoding="utf-8")
        alerted = _load(browser, page)
        found = browser.execute_script("return document.scripts.length")
        assert alerted == bool(scripts) and (found >= 1 if scripts else found == 0)
        if scripts == 0:
            assert markup in browser.find_element(By.TAG_NAME, "body").text   # shown as text
