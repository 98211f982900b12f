"""The study registry: one entry per study of the paper (``docs/batch-folder.md``, appendix D.4, E.2.1, G.1).

A :class:`StudySchema` holds everything keyed by study: the answer fields and their allowed values,
the field whose emptiness means "no selection" (quality control), the answer-key columns, the paper's
minimum number of annotators per task, the sampling settings class (paper defaults), the HIT title,
description and the paper's reward, the batch-id prefix, and the honest-annotator accuracies the
simulator assumes. :data:`STUDIES` maps each name to its entry; :data:`STUDY_NAMES` lists them in the
appendix's order. Every other module reads study facts from here.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping

from .sampling import MisclassificationSampling, SimulatabilitySampling, SpuriousSampling

__all__ = ["AnswerField", "StudySchema", "STUDIES", "STUDY_NAMES", "study_schema", "default_answers"]


@dataclasses.dataclass(frozen=True)
class AnswerField:
    """One answer on the page.

    Parameters
    ----------
    name : str
        Canonical name (the ``Answer.<name>`` field studykit's pages post).
    options : tuple of str, optional
        Allowed values, compared case-insensitively and stored as spelled here; None for free text.
    multiple : bool
        A checkbox group: several options joined with ``|``.
    """

    name: str
    options: tuple[str, ...] | None = None
    multiple: bool = False


CONFIDENCE = AnswerField("confidence", ("0", "1", "2", "3"))


@dataclasses.dataclass(frozen=True)
class StudySchema:
    """One study: its answers, answer key, quality-control, sampling and HIT defaults.

    Parameters
    ----------
    name : str
        ``simulatability``, ``spurious`` or ``misclassification``.
    answers : tuple of AnswerField
        Every answer field (``confidence`` included).
    selection : str
        The answer whose emptiness means the annotator made no selection.
    key_columns : tuple of str
        Columns of ``answer_key.csv`` besides ``task_id``.
    min_annotators : int
        The paper's minimum number of annotators with a selection for a task to be kept.
    sampling : type
        The study's sampling settings class (:mod:`studykit.formats.sampling`); its defaults are the paper's.
    title, description : str
        The HIT's default title and description shown to workers.
    reward : str
        The paper's reward per assignment in US dollars (``"0.04"``).
    batch_prefix : str
        First part of the study's batch ids (``sim-<digest>``).
    simulated_accuracy : mapping of str to float
        Honest-annotator accuracy per condition the simulator assumes (planning, not the paper's results).
    """

    name: str
    answers: tuple[AnswerField, ...]
    selection: str
    key_columns: tuple[str, ...]
    min_annotators: int
    sampling: type
    title: str
    description: str
    reward: str
    batch_prefix: str
    simulated_accuracy: Mapping[str, float] = dataclasses.field(hash=False)

    def field(self, name: str) -> AnswerField:
        """The answer field called ``name``."""
        for answer in self.answers:
            if answer.name == name:
                return answer
        raise ValueError(f"study {self.name!r} has no answer field {name!r} "
                         f"(it has {', '.join(a.name for a in self.answers)})")


_PARTS = ("object", "surroundings", "both", "unsure")

STUDIES: Mapping[str, StudySchema] = MappingProxyType({
    "simulatability": StudySchema(
        "simulatability", (AnswerField("choice", ("A", "B", "C")), CONFIDENCE), selection="choice",
        key_columns=("layer", "target_class", "correct_choice", "top_is_target", "prob_A", "prob_B", "prob_C",
                     "label_A", "label_B", "label_C"),
        min_annotators=2, sampling=SimulatabilitySampling,
        title="Which image matches the patterns best?",
        description="Look at a few patterns an AI uses and pick the image that matches them best.",
        reward="0.04", batch_prefix="sim",
        simulated_accuracy=MappingProxyType({"dense": 0.36, "sparse": 0.55})),
    "spurious": StudySchema(
        "spurious", (AnswerField("common", ("yes", "no")), CONFIDENCE, AnswerField("description"),
                     AnswerField("part_a", _PARTS), AnswerField("part_b", _PARTS)), selection="common",
        key_columns=("layer", "class_a", "class_b", "feature"), min_annotators=3, sampling=SpuriousSampling,
        title="Do you see a common pattern in these images?",
        description="Look at six images of two kinds of objects and describe the pattern they share, if any.",
        reward="0.07", batch_prefix="spu",
        simulated_accuracy=MappingProxyType({"dense": 0.5, "sparse": 0.65})),
    "misclassification": StudySchema(
        "misclassification", (AnswerField("match", ("A", "B", "none"), multiple=True),
                              AnswerField("best", ("A", "B")), CONFIDENCE), selection="match",
        key_columns=("layer", "condition", "true_class", "predicted_class", "option_fp", "option_fl", "option_fr"),
        min_annotators=2, sampling=MisclassificationSampling,
        title="Identify the patterns that match the given image",
        description="Look at an image and two patterns and say which patterns match the image.",
        reward="0.03", batch_prefix="mis",
        simulated_accuracy=MappingProxyType({"fp": 0.6, "fl": 0.7, "fr": 0.2})),
})

#: The study names, in the order of the appendix.
STUDY_NAMES: tuple[str, ...] = tuple(STUDIES)


def study_schema(study: str | StudySchema) -> StudySchema:
    """The schema of ``study`` (a name from :data:`STUDIES` or a schema, returned as is)."""
    if isinstance(study, StudySchema):
        return study
    try:
        return STUDIES[study]
    except (KeyError, TypeError):
        raise ValueError(f"unknown study {study!r}; expected one of {', '.join(STUDIES)}") from None


def default_answers(study: str | StudySchema) -> dict[str, str]:
    """The ``Answer.*`` field -> canonical name mapping of studykit's own pages (``Answer.choice`` -> ``choice``)."""
    return {f"Answer.{a.name}": a.name for a in study_schema(study).answers}
