"""Fixtures of the CLI tests: the commands wrap the packages, so their tests use the packages' own test
fixtures. Each package's conftest is loaded here under its own module name, and the fixtures the CLI
tests need are taken from it (pytest then serves them to tests/cli as well)."""

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# Helper modules the packages' conftests and the CLI tests import (interpret_toys, mturk_batch_factory,
# tasks_inputs_factory).
for _folder in ("interpret", "mturk", "tasks"):
    if str(TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(TESTS / _folder))


def _fixtures(package: str):
    spec = importlib.util.spec_from_file_location(f"{package}_test_fixtures", TESTS / package / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_batch = _fixtures("analysis").make_batch                  # a hand-made batch folder of a study
default_stores = _fixtures("interpret").default_stores         # stores of the embedded default, 24 rows
study_inputs = _fixtures("tasks").study_inputs                 # a small store, path and feature images
_mturk = _fixtures("mturk")
aws_credentials = _mturk.aws_credentials                       # autouse: dummy credentials, no user config
fake_server = _mturk.fake_server                               # the local MTurk-protocol server
batch_dir = _mturk.batch_dir                                   # a three-task batch with HTTPS image URLs
