"""Small seeded problems shared by the solver tests."""

import pytest

from solver_problems import make_classification, make_regression


@pytest.fixture
def clf_data():
    return make_classification()


@pytest.fixture
def reg_data():
    return make_regression()
