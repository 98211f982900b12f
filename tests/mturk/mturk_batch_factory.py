"""Small batch folders per docs/batch-folder.md, for the MTurk tests (the task builder is another issue)."""

import csv
import hashlib
import json
from pathlib import Path

HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def question_xml(task_id: str, image_src: str) -> str:
    """A tiny valid HTMLQuestion: a complete form with hidden task_id, an image, radios and checkboxes."""
    html = f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"/></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" value="" name="assignmentId" id="assignmentId"/>
<input type="hidden" name="task_id" value="{task_id}"/>
<img src="{image_src}" alt="option A" width="96"/>
<label><input type="radio" name="choice" value="A"/>A</label> <label><input type="radio" name="choice" value="B"/>B</label>
<label><input type="checkbox" name="match" value="A"/>A</label> <label><input type="checkbox" name="match" value="B"/>B</label>
<select name="confidence"><option>0</option><option>1</option><option>2</option><option>3</option></select>
<input type="submit" id="submitButton" value="Submit"/>
</form></body></html>"""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent>'
            f"<![CDATA[{html}]]></HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>\n")


def build_batch(directory: Path, *, n_tasks: int = 3, batch_id: str = "sim-0a1b2c3d", max_assignments: int = 2,
                reward: str = "0.04", hosted: bool = True, lifetime_seconds: int = 3600) -> Path:
    """Write a batch folder per docs/batch-folder.md; image URLs are HTTPS unless ``hosted=False``."""
    (directory / "hits").mkdir(parents=True)
    (directory / "assets").mkdir()
    rows = []
    for index in range(n_tasks):
        task_id = f"t{index:05d}"
        image = PNG + index.to_bytes(2, "big")
        name = hashlib.sha256(image).hexdigest()[:16] + ".png"
        (directory / "assets" / name).write_bytes(image)
        src = f"https://images.example.org/{name}" if hosted else f"assets/{name}"
        (directory / "hits" / f"{task_id}.xml").write_text(question_xml(task_id, src), encoding="utf-8")
        rows.append({"task_id": task_id, "image_a": name, "target_class": f"class {index % 2}"})
    with (directory / "tasks.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["task_id", "image_a", "target_class"])
        writer.writeheader()
        writer.writerows(rows)
    manifest = {
        "format": "studykit-batch/1", "batch_id": batch_id, "study": "simulatability", "seed": 0,
        "studykit_version": "0.1.0", "spec": {}, "layers": {}, "counts": {},
        "hit": {"title": "Which image fits the pattern?", "description": "Pick an image and rate your confidence.",
                "keywords": "images, survey", "reward": reward, "max_assignments": max_assignments,
                "assignment_duration_seconds": 1800, "lifetime_seconds": lifetime_seconds,
                "auto_approval_delay_seconds": 259200},
        "n_hits": n_tasks, "answers": {"Answer.choice": "choice", "Answer.confidence": "confidence"},
        "asset_base_url": None,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory
