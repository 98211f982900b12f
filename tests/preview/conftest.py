import os
import sys
import threading
from pathlib import Path

import pytest

# The preview tests build batches with the task builder's test inputs (tests/tasks/tasks_inputs_factory.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

from tasks_inputs_factory import make_inputs, small_spec  # noqa: E402

from studykit.preview import PreviewServer  # noqa: E402
from studykit.tasks import STUDIES, build_batch  # noqa: E402


@pytest.fixture(scope="module")
def preview_batches(tmp_path_factory):
    """One small batch folder per study."""
    root = tmp_path_factory.mktemp("preview")
    inputs = make_inputs(root / "inputs")
    return {study: build_batch(small_spec(study, inputs), root / study) for study in STUDIES}


@pytest.fixture(scope="module")
def servers(preview_batches):
    """A running PreviewServer per study, shut down after the module."""
    running = {}
    for study, batch in preview_batches.items():
        server = PreviewServer(batch)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running[study] = server
    yield running
    for server in running.values():
        server.shutdown()
        server.server_close()


CHROMIUM = Path(os.environ.get("STUDYKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("STUDYKIT_CHROMEDRIVER", "/usr/bin/chromedriver"))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver) driven by selenium; skips without them."""
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
