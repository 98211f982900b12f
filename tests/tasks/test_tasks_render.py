"""Pages: every study renders, answers use the canonical names, values are escaped, MTurk's limits hold."""

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jinja2
import pytest

from studykit.formats.studies import STUDIES
from studykit.tasks import html_question, render_page, requester_template
from studykit.tasks.render import MAX_QUESTION_BYTES, environment

VARIABLES = {
    "simulatability": {**{f"pattern_{j}": f"p{j}.png" for j in range(1, 6)},
                       **{f"importance_{j}": str(100 - 10 * j) for j in range(1, 6)},
                       "image_A": "a.png", "image_B": "b.png", "image_C": "c.png"},
    "spurious": {"class_a": "<script>alert(1)</script>", "class_b": "fish & chips",
                 **{f"image_{side}{j}": f"{side}{j}.png" for side in "ab" for j in (1, 2, 3)}},
    "misclassification": {"image": "x.png", "pattern_A": "fa.png", "pattern_B": "fb.png"},
}


class Inputs(HTMLParser):
    """Names of a page's form inputs, its image sources and whether it has a form and a script."""

    def __init__(self, html):
        super().__init__()
        self.names, self.sources, self.tags = set(), [], set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag in ("input", "select", "textarea") and attrs.get("name"):
            self.names.add(attrs["name"])
        if tag == "img":
            self.sources.append(attrs["src"])


def _page(study, **changes):
    options = {"task_id": "t00001", "title": "A title", "consent": "Consent text.",
               "asset_url": lambda name: f"../assets/{name}", **changes}
    return render_page(study, VARIABLES[study], **options)


@pytest.mark.parametrize("study", sorted(VARIABLES))
def test_every_study_renders_with_the_canonical_answer_names(study):
    page = Inputs(_page(study))
    answers = {field.name for field in STUDIES[study].answers}
    assert page.names == answers | {"task_id", "assignmentId"}
    assert {"form", "script"} <= page.tags
    expected = sorted(f"../assets/{v}" for k, v in VARIABLES[study].items() if k.startswith(("image", "pattern_")))
    assert sorted(page.sources) == expected


@pytest.mark.parametrize("study", sorted(VARIABLES))
def test_pages_load_nothing_from_other_hosts(study):
    html = _page(study)
    assert "http://" not in html and "src=\"https://" not in html and "<link" not in html
    assert "turkSubmitTo" in html and "/mturk/externalSubmit" in html and "ASSIGNMENT_ID_NOT_AVAILABLE" in html


def test_a_missing_variable_raises():
    variables = dict(VARIABLES["misclassification"])
    del variables["pattern_B"]
    with pytest.raises(KeyError):
        render_page("misclassification", variables, task_id="t0", title="T", consent="C", asset_url=str)
    template = environment().get_template("spurious.html")
    with pytest.raises(jinja2.UndefinedError):
        template.render(groups=[], class_a="a", task_id="t0", title="T", consent="C", standalone=True)


def test_class_names_are_escaped():
    html = _page("spurious")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "fish &amp; chips" in html
    assert html.count("<script>") == 1                      # the page's own inline script only


@pytest.mark.parametrize("study", sorted(VARIABLES))
def test_requester_template_has_placeholders_and_no_form(study):
    columns = ["task_id", *VARIABLES[study]]
    html = requester_template(study, columns, title="A title", consent="Consent text.")
    for column in columns:
        assert "${" + column + "}" in html
    page = Inputs(html)
    assert "form" not in page.tags and "script" not in page.tags and "assignmentId" not in page.names
    assert page.names == {field.name for field in STUDIES[study].answers} | {"task_id"}


def test_html_question_wraps_the_page():
    html = _page("simulatability")
    xml = html_question(html, frame_height=0)
    root = ET.fromstring(xml.encode())
    assert root.tag.endswith("HTMLQuestion")
    content = next(el for el in root if el.tag.endswith("HTMLContent"))
    assert content.text.strip() == html.strip()
    assert next(el for el in root if el.tag.endswith("FrameHeight")).text == "0"


def test_html_question_limits():
    with pytest.raises(ValueError, match="]]>"):
        html_question("<p>a ]]> b</p>", frame_height=0)
    with pytest.raises(ValueError, match="at most 65,535"):
        html_question("<p>" + "x" * MAX_QUESTION_BYTES + "</p>", frame_height=0)
