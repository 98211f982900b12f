"""The HIT pages in real headless Chromium (Debian's chromium and chromium-driver) through the preview server.

Images load, preview mode blocks submitting, and answering then submitting writes the expected row of
``preview_results.csv``. A screenshot of each study's answered page is saved in the test's tmp_path and,
when ``STUDYKIT_TEST_ARTIFACTS`` names a folder, copied there.
"""

import os
import shutil
from pathlib import Path

import pytest

from studykit.analysis.load import read_results_csv

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


#: Per study: the inputs to click (name, value) and the Answer.* cells they must give.
ANSWERS = {
    "simulatability": ([("choice", "B"), ("confidence", "2")], {"choice": "B", "confidence": "2"}),
    "spurious": ([("common", "yes"), ("confidence", "3"), ("part_a", "object"), ("part_b", "surroundings")],
                 {"common": "yes", "confidence": "3", "description": "red color", "part_a": "object",
                  "part_b": "surroundings"}),
    "misclassification": ([("match", "A"), ("match", "B"), ("best", "B"), ("confidence", "1")],
                          {"match": "A|B", "best": "B", "confidence": "1"}),
}


def _open_hit(driver, server, task_id, mode):
    """Open the preview server's frame of ``task_id`` and switch into the HIT page, images loaded."""
    driver.switch_to.default_content()
    driver.get(f"{server.url}hit/{task_id}?mode={mode}&workerId=ABROWSER1")
    driver.switch_to.frame(driver.find_element(By.ID, "hit-frame"))
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))


def _save_screenshot(driver, tmp_path, study):
    driver.switch_to.default_content()
    path = tmp_path / f"{study}.png"
    assert driver.save_screenshot(str(path))
    folder = os.environ.get("STUDYKIT_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


@pytest.mark.parametrize("study", sorted(ANSWERS))
def test_preview_mode_blocks_submitting(browser, servers, study):
    server = servers[study]
    _open_hit(browser, server, "t00000", "preview")
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert widths and all(width > 0 for width in widths)
    button = browser.find_element(By.ID, "submitButton")
    assert not button.is_enabled() and browser.find_element(By.ID, "preview-notice").is_displayed()
    browser.execute_script("document.getElementById('mturk_form').requestSubmit()")
    assert browser.find_elements(By.ID, "submitButton") and not server.results_path.exists()


@pytest.mark.parametrize("study", sorted(ANSWERS))
def test_answering_and_submitting_writes_the_row(browser, servers, study, tmp_path):
    server = servers[study]
    _open_hit(browser, server, "t00001", "accept")
    assert all(w > 0 for w in browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)"))
    clicks, expected = ANSWERS[study]
    for name, value in clicks:
        browser.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]').click()
    if study == "spurious":
        browser.find_element(By.NAME, "description").send_keys("red color")
    assignment = browser.find_element(By.ID, "assignmentId").get_attribute("value")
    assert assignment.startswith("PREVIEW") and browser.find_element(By.ID, "submitButton").is_enabled()
    _save_screenshot(browser, tmp_path, study)
    browser.switch_to.frame(browser.find_element(By.ID, "hit-frame"))
    browser.find_element(By.ID, "submitButton").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "message"))
    assert "was recorded" in browser.find_element(By.ID, "message").text
    frame = read_results_csv(server.results_path).frame
    row = frame[frame["AssignmentId"] == assignment].iloc[0]
    assert row["WorkerId"] == "ABROWSER1" and row["Input.task_id"] == row["Answer.task_id"] == "t00001"
    assert {name: row[f"Answer.{name}"] for name in expected} == expected
