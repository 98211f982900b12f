"""The QuestionFormAnswers XML that MTurk returns as each assignment's ``Answer``.

One ``<Answer>`` per submitted form field: ``<QuestionIdentifier>`` (the field's ``name``) and
``<FreeText>`` (its value). Same-name checkboxes arrive ``|``-joined in one value; unchecked boxes and
unanswered radios are simply absent; QuestionForm HITs may return ``<SelectionIdentifier>`` elements or
an ``<UploadedFileKey>`` instead. Some workers' browser scripts add a ``doNotRedirect`` field, which is
dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Mapping, Sequence
from xml.sax.saxutils import escape

__all__ = ["ANSWERS_NAMESPACE", "IGNORED_FIELDS", "MULTI_VALUE_SEPARATOR", "parse_answers", "format_answers"]

ANSWERS_NAMESPACE = ("http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/"
                     "QuestionFormAnswers.xsd")
#: Fields injected by workers' browser extensions, never by the page.
IGNORED_FIELDS = frozenset({"doNotRedirect"})
MULTI_VALUE_SEPARATOR = "|"
_NS = {"q": ANSWERS_NAMESPACE}


def _value(answer: ET.Element) -> str:
    free_text = answer.find("q:FreeText", _NS)
    if free_text is not None:
        return free_text.text or ""
    selections = [el.text or "" for el in answer.findall("q:SelectionIdentifier", _NS)]
    if selections:
        return MULTI_VALUE_SEPARATOR.join(selections)
    upload = answer.find("q:UploadedFileKey", _NS)
    return upload.text or "" if upload is not None else ""


def parse_answers(xml: str | None) -> dict[str, str]:
    """The fields of one QuestionFormAnswers document, as ``{QuestionIdentifier: value}``.

    Parameters
    ----------
    xml : str or None
        ``Assignment["Answer"]``; None or empty for an assignment submitted with no field.

    Returns
    -------
    dict of str to str
        In document order. An empty ``<FreeText/>`` gives ``""``; several ``<SelectionIdentifier>``
        elements, or one identifier repeated, give one ``|``-joined value; ``doNotRedirect`` is dropped.

    Raises
    ------
    ValueError
        When ``xml`` is not well-formed.
    """
    if not xml or not xml.strip():
        return {}
    try:
        root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError as exc:
        raise ValueError(f"malformed QuestionFormAnswers XML ({exc})") from None
    answers: dict[str, str] = {}
    for answer in root.findall("q:Answer", _NS):
        identifier = (answer.findtext("q:QuestionIdentifier", default="", namespaces=_NS) or "").strip()
        if not identifier or identifier in IGNORED_FIELDS:
            continue
        value = _value(answer)
        answers[identifier] = (answers[identifier] + MULTI_VALUE_SEPARATOR + value) if identifier in answers else value
    return answers


def format_answers(answers: Mapping[str, str | Sequence[str]]) -> str:
    """A QuestionFormAnswers document as MTurk writes it for an HTMLQuestion form.

    Parameters
    ----------
    answers : mapping
        Field name to value; a list or tuple of values (same-name checkboxes) is ``|``-joined.

    Returns
    -------
    str
    """
    parts = ['<?xml version="1.0" encoding="ASCII"?>', f'<QuestionFormAnswers xmlns="{ANSWERS_NAMESPACE}">']
    for name, value in answers.items():
        text = value if isinstance(value, str) else MULTI_VALUE_SEPARATOR.join(value)
        encoded = escape(text).encode("ascii", "xmlcharrefreplace").decode("ascii")
        parts.append(f"<Answer><QuestionIdentifier>{escape(name)}</QuestionIdentifier>"
                     f"<FreeText>{encoded}</FreeText></Answer>")
    parts.append("</QuestionFormAnswers>")
    return "".join(parts)
