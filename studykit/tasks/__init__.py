"""Task builder: the three studies' sampling, HIT pages and batch folders (appendix D.4, E.2.1, G.1).

From a :class:`TaskSpec` (a TOML file: :func:`load_spec`), :func:`build_batch` samples a study on a
feature store and the decision layers of a solver path folder, renders its pages from the Jinja
templates in ``studykit/templates``, and writes a batch folder (``docs/batch-folder.md``) that
``studykit preview`` shows, ``studykit mturk`` posts and ``studykit analyze`` reads.

Modules: :mod:`~studykit.tasks.spec` (the spec), :mod:`~studykit.tasks.sampling` (shared rules),
:mod:`~studykit.tasks.simulatability`, :mod:`~studykit.tasks.spurious`,
:mod:`~studykit.tasks.misclassification` (one per study), :mod:`~studykit.tasks.assets` (images),
:mod:`~studykit.tasks.render` (pages), :mod:`~studykit.tasks.batch` (the folder).
"""

from .assets import FeatureImages, folder_feature_images
from .batch import build_batch, describe_batch
from .render import environment, html_question, render_page, requester_template
from .sampling import Counts, PageTask, band_rows, significant_features
from .spec import (STUDIES, HITSettings, Inputs, MisclassificationSampling, PageSettings, SimulatabilitySampling,
                   SpuriousSampling, TaskSpec, load_spec)

__all__ = ["STUDIES", "TaskSpec", "Inputs", "HITSettings", "PageSettings", "SimulatabilitySampling",
           "SpuriousSampling", "MisclassificationSampling", "load_spec", "build_batch", "describe_batch",
           "FeatureImages", "folder_feature_images", "Counts", "PageTask", "significant_features", "band_rows",
           "environment", "render_page", "requester_template", "html_question"]
