"""Rendering HIT pages from the Jinja templates in ``studykit/templates`` (package data).

One environment (:func:`environment`) with autoescaping and ``StrictUndefined``: every value shown is
HTML-escaped (a class named ``<script>`` is shown, never run), and a variable a template needs but is
not given raises instead of rendering empty. A page is rendered in one of two forms:

- standalone (:func:`render_page`): a complete HTML document with its own form, which posts to
  ``turkSubmitTo + /mturk/externalSubmit`` inside MTurk's iframe; :func:`html_question` wraps it in
  the HTMLQuestion XML that the API posts;
- Requester website (:func:`requester_template`): the same page as a fragment (the website adds the form
  and the submit button) with ``${variable}`` placeholders, filled from ``input.csv``.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import jinja2

from studykit.formats.studies import study_schema

from .misclassification import misclassification_context
from .simulatability import simulatability_context
from .spurious import spurious_context

__all__ = ["environment", "render_page", "page_options", "OPTION_LABELS", "requester_template", "html_question",
           "MAX_QUESTION_BYTES"]

#: MTurk's limit on a Question document, whitespace included.
MAX_QUESTION_BYTES = 65_535
HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"

#: study -> function making its template's variables from the page variables and an asset-URL function.
CONTEXTS: Mapping[str, Callable[[Mapping[str, str], Callable[[str], str]], dict]] = {
    "simulatability": simulatability_context,
    "spurious": spurious_context,
    "misclassification": misclassification_context,
}


#: How each option of an answer field is labelled on the page (Fig. 28's and Fig. 32's words; the
#: options the paper does not have are labelled by studykit).
OPTION_LABELS: Mapping[str, Mapping[str, str]] = {
    "part": {"object": "Part of object", "surroundings": "Part of surroundings", "both": "Both",
             "unsure": "Not sure"},
    "match": {"A": "Pattern A matches the image", "B": "Pattern B matches the image",
              "none": "Neither pattern matches the image"},
}


def page_options(study: str, options: Mapping[str, tuple[str, ...]] | None = None) -> dict:
    """The template's option lists: ``parts`` (spurious) and ``match_options`` (misclassification), as
    (value, label) pairs. ``options`` maps an answer field to the options offered (a sampling's
    ``answer_options()``); default: the paper's (the study's default sampling)."""
    offered = dict(study_schema(study).sampling().answer_options())
    offered.update(options or {})
    return {"parts": [(value, OPTION_LABELS["part"][value]) for value in offered.get("part_a", ())],
            "match_options": [(value, OPTION_LABELS["match"][value]) for value in offered.get("match", ())]}


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment of studykit's templates (autoescaping, ``StrictUndefined``)."""
    return jinja2.Environment(loader=jinja2.PackageLoader("studykit", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render_page(study: str, variables: Mapping[str, str], *, task_id: str, title: str, consent: str,
                asset_url: Callable[[str], str], standalone: bool = True,
                options: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """Render a study's page.

    Parameters
    ----------
    study : str
        ``simulatability``, ``spurious`` or ``misclassification``.
    variables : mapping of str to str
        The task's page variables (a ``tasks.csv`` row without ``task_id``).
    task_id : str
        Posted back as the hidden answer ``task_id``.
    title, consent : str
        The page's heading and consent paragraph.
    asset_url : callable
        Asset file name -> the URL the page loads it from.
    standalone : bool
        A complete document with its form and script (True), or a Requester-website fragment (False).
    options : mapping of str to tuple of str, optional
        The options offered per answer field (the spec's ``sampling.answer_options()``); default: the
        paper's (Figs. 28 and 32).

    Raises
    ------
    jinja2.UndefinedError
        When the template uses a variable that is not given.
    """
    context = {**CONTEXTS[study](variables, asset_url), **page_options(study, options)}
    template = environment().get_template(f"{study}.html")
    return template.render(**context, task_id=task_id, title=title, consent=consent, standalone=standalone)


def requester_template(study: str, columns: list[str], *, title: str, consent: str,
                       options: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """The page for the Requester website: ``${column}`` placeholders for every ``input.csv`` column.

    Image columns of ``input.csv`` hold the images' URLs, so a placeholder is used as the ``src`` as is.
    """
    placeholders = {column: "${" + column + "}" for column in columns if column != "task_id"}
    return render_page(study, placeholders, task_id="${task_id}", title=title, consent=consent,
                       asset_url=lambda url: url, standalone=False, options=options)


def html_question(html: str, *, frame_height: int) -> str:
    """Wrap a standalone page in MTurk's HTMLQuestion XML.

    Raises
    ------
    ValueError
        When the page contains ``]]>`` (it would end the CDATA section) or the document exceeds
        :data:`MAX_QUESTION_BYTES` bytes.
    """
    if "]]>" in html:
        raise ValueError("the page contains ']]>', which would end the HTMLQuestion's CDATA section")
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<HTMLQuestion xmlns="{HTML_QUESTION_NS}">\n'
           f"<HTMLContent><![CDATA[\n{html}]]></HTMLContent>\n<FrameHeight>{int(frame_height)}</FrameHeight>\n"
           "</HTMLQuestion>\n")
    size = len(xml.encode("utf-8"))
    if size > MAX_QUESTION_BYTES:
        raise ValueError(f"the HTMLQuestion is {size:,} bytes; MTurk accepts at most {MAX_QUESTION_BYTES:,}")
    return xml
