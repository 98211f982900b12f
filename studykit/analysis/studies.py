"""What each study asks and what its answer key holds (``docs/batch-folder.md``, appendix D.4, E.2.1, G.1).

A :class:`StudySchema` names a study's answer fields and their allowed values, the field whose emptiness
means "no selection" (quality control), the answer-key columns, and the paper's minimum number of
annotators per task. :data:`STUDIES` holds the three studies of the paper.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

__all__ = ["AnswerField", "StudySchema", "STUDIES", "study_schema", "default_answers"]


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
    """A study's answers, answer key and quality-control defaults.

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
    """

    name: str
    answers: tuple[AnswerField, ...]
    selection: str
    key_columns: tuple[str, ...]
    min_annotators: int

    def field(self, name: str) -> AnswerField:
        """The answer field called ``name``."""
        for answer in self.answers:
            if answer.name == name:
                return answer
        raise ValueError(f"study {self.name!r} has no answer field {name!r} "
                         f"(it has {', '.join(a.name for a in self.answers)})")


_PARTS = ("object", "surroundings", "both", "unsure")

STUDIES: Mapping[str, StudySchema] = {
    "simulatability": StudySchema(
        "simulatability", (AnswerField("choice", ("A", "B", "C")), CONFIDENCE), selection="choice",
        key_columns=("layer", "target_class", "correct_choice", "top_is_target", "prob_A", "prob_B", "prob_C",
                     "label_A", "label_B", "label_C"),
        min_annotators=2),
    "spurious": StudySchema(
        "spurious", (AnswerField("common", ("yes", "no")), CONFIDENCE, AnswerField("description"),
                     AnswerField("part_a", _PARTS), AnswerField("part_b", _PARTS)), selection="common",
        key_columns=("layer", "class_a", "class_b", "feature"), min_annotators=3),
    "misclassification": StudySchema(
        "misclassification", (AnswerField("match", ("A", "B", "none"), multiple=True),
                              AnswerField("best", ("A", "B")), CONFIDENCE), selection="match",
        key_columns=("layer", "condition", "true_class", "predicted_class", "option_fp", "option_fl", "option_fr"),
        min_annotators=2),
}


def study_schema(study: str | StudySchema) -> StudySchema:
    """The schema of ``study`` (a name from :data:`STUDIES` or a schema, returned as is)."""
    if isinstance(study, StudySchema):
        return study
    try:
        return STUDIES[study]
    except KeyError:
        raise ValueError(f"unknown study {study!r}; expected one of {', '.join(STUDIES)}") from None


def default_answers(study: str | StudySchema) -> dict[str, str]:
    """The ``Answer.*`` field -> canonical name mapping of studykit's own pages (``Answer.choice`` -> ``choice``)."""
    return {f"Answer.{a.name}": a.name for a in study_schema(study).answers}
