import pytest

from tasks_inputs_factory import make_inputs


@pytest.fixture(scope="session")
def study_inputs(tmp_path_factory):
    """Folders of a small store, path and feature images (tasks_inputs_factory.make_inputs)."""
    return make_inputs(tmp_path_factory.mktemp("study-inputs"))
