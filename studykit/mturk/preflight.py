"""Pre-flight checks: everything MTurk would reject (or silently accept and regret) before any call.

botocore validates types and minimum lengths only. These checks add what it leaves out: the Question
XML's 65,535-byte limit and well-formedness, HTTPS for every resource a page loads (MTurk serves pages
over HTTPS, so plain-HTTP or relative image URLs break), the 64-character ``UniqueRequestToken`` and
255-character ``RequesterAnnotation`` limits, and MTurk's higher fee for HITs with 10 or more
assignments (a HIT created with 9 or fewer can never be extended past 9, so the choice is made here).
The HIT type's own fields are checked when the manifest is read (:class:`~studykit.mturk.batch.HITSpec`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from .batch import Batch, Task
from .cost import HIGH_FEE_ASSIGNMENTS

__all__ = ["PreflightError", "MAX_QUESTION_BYTES", "check_question", "preflight"]

MAX_QUESTION_BYTES = 65_535
MAX_TOKEN_CHARS = 64
MAX_ANNOTATION_CHARS = 255
QUESTION_ROOTS = ("HTMLQuestion", "ExternalQuestion", "QuestionForm")
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""")


class PreflightError(ValueError):
    """The batch is not ready to post; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} pre-flight problem(s):\n  {shown}{more}")


class _ResourceURLs(HTMLParser):
    """Collects the URLs a page loads: ``src``/``srcset``/``poster``, ``<link href>``, CSS ``url()``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("src", "poster") or (name == "href" and tag == "link"):
                self.urls.append(value.strip())
            elif name == "srcset":
                self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())
            elif name == "style":
                self.urls.extend(_CSS_URL.findall(value))

    def handle_data(self, data):
        if self.lasttag == "style":
            self.urls.extend(_CSS_URL.findall(data))


def _insecure_urls(html: str) -> list[str]:
    parser = _ResourceURLs()
    parser.feed(html)
    parser.close()
    return [url for url in parser.urls if not url.lower().startswith(("https://", "data:"))]


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_question(xml: bytes, name: str) -> list[str]:
    """Problems with one Question XML document (empty when it is fine to post).

    Parameters
    ----------
    xml : bytes
        The document as it will be sent (UTF-8).
    name : str
        How to name the document in the messages (its file name).
    """
    problems = []
    if len(xml) > MAX_QUESTION_BYTES:
        problems.append(f"{name}: {len(xml):,} bytes; MTurk's Question limit is {MAX_QUESTION_BYTES:,} "
                        "(host images instead of inlining them)")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        return problems + [f"{name}: not well-formed XML ({exc})"]
    kind = _local_name(root.tag)
    if kind not in QUESTION_ROOTS:
        return problems + [f"{name}: root element <{kind}> is not one of {', '.join(QUESTION_ROOTS)}"]
    if kind == "ExternalQuestion":
        urls = [el.text or "" for el in root.iter() if _local_name(el.tag) == "ExternalURL"]
        insecure = [url for url in urls if not url.strip().lower().startswith("https://")]
    else:
        html = "".join(el.text or "" for el in root.iter() if _local_name(el.tag) == "HTMLContent")
        insecure = _insecure_urls(html)
    if insecure:
        problems.append(f"{name}: {len(insecure)} resource URL(s) are not HTTPS, e.g. {insecure[0]!r} "
                        "(host the assets first: studykit mturk host)")
    return problems


def _task_problems(batch: Batch, task: Task) -> list[str]:
    problems = []
    if len(batch.request_token(task)) > MAX_TOKEN_CHARS:
        problems.append(f"{task.task_id}: UniqueRequestToken {batch.request_token(task)!r} is longer "
                        f"than {MAX_TOKEN_CHARS} characters (shorten the batch id)")
    if len(batch.annotation(task)) > MAX_ANNOTATION_CHARS:
        problems.append(f"{task.task_id}: RequesterAnnotation is longer than {MAX_ANNOTATION_CHARS} characters")
    path = batch.question_path(task)
    if not path.is_file():
        return problems + [f"{path}: missing"]
    return problems + check_question(path.read_bytes(), path.name)


def preflight(batch: Batch, *, accept_high_fee: bool = False) -> None:
    """Check a whole batch before posting it; make no call.

    Parameters
    ----------
    batch : Batch
    accept_high_fee : bool
        Allow ``max_assignments >= 10``, which MTurk charges a higher fee for (40% instead of 20%).

    Raises
    ------
    PreflightError
        Listing every problem found (it is a ``ValueError``).
    """
    problems = []
    if batch.hit.max_assignments >= HIGH_FEE_ASSIGNMENTS and not accept_high_fee:
        problems.append(f"hit.max_assignments={batch.hit.max_assignments}: HITs with {HIGH_FEE_ASSIGNMENTS} or "
                        "more assignments cost MTurk's higher fee; accept it explicitly (--accept-high-fee) "
                        "or use at most 9 (a HIT created with 9 or fewer can never be extended past 9)")
    if not batch.tasks:
        problems.append("the batch has no tasks")
    for task in batch.tasks:
        problems.extend(_task_problems(batch, task))
    if problems:
        raise PreflightError(problems)
