"""A local HTTP server that shows a batch's HITs as MTurk does and records the answers.

Routes (all on 127.0.0.1):

- ``/``: the HITs of the batch, each with a preview link and an accept link, and a worker-ID field;
- ``/hit/<task_id>?mode=preview|accept&workerId=...``: MTurk's frame around the HIT page, loaded with
  the four iframe parameters MTurk adds (``assignmentId``, ``hitId``, ``turkSubmitTo``, ``workerId``);
  in preview mode ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE``, so the page disables submitting;
  accepting creates an assignment;
- ``/hits/<task_id>.html`` and ``/assets/<name>.png``: the batch's files;
- ``POST /mturk/externalSubmit``: where the page's form posts (``turkSubmitTo`` is this server); each
  submission of an accepted assignment becomes a row of ``BATCH/preview_results.csv`` in the Requester
  website's batch-results layout (:func:`studykit.formats.results_csv.append_results`), checkbox
  answers joined with ``|``, so ``studykit analyze`` reads pilots like MTurk's results.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
import threading
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from studykit.formats.batch import read_batch
from studykit.formats.results_csv import (append_results, format_approval_rate, format_reward, format_time,
                                          read_rows)
from studykit.tasks.render import environment

__all__ = ["PreviewServer", "RESULTS_FILE", "PREVIEW_ASSIGNMENT"]

log = logging.getLogger(__name__)

RESULTS_FILE = "preview_results.csv"
#: The assignmentId MTurk passes while a worker previews a HIT.
PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
DEFAULT_WORKER = "APREVIEWWORKER"
_WORKER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_STATIC = {"hits": (re.compile(r"^[A-Za-z0-9_-]+\.html$"), "text/html; charset=utf-8"),
           "assets": (re.compile(r"^[0-9a-f]{16}\.png$"), "image/png")}


@dataclasses.dataclass(frozen=True)
class Assignment:
    """An accepted HIT: which task, which worker, since when."""

    task_id: str
    worker_id: str
    accepted: datetime


class PreviewServer(ThreadingHTTPServer):
    """Serves one batch folder on ``host`` (a free port when ``port`` is 0).

    Parameters
    ----------
    batch_dir : path-like
        A batch folder (``docs/batch-folder.md``).
    host : str
    port : int

    Raises
    ------
    FileNotFoundError, ValueError
        When ``batch_dir`` is not a readable batch folder.
    """

    daemon_threads = True

    def __init__(self, batch_dir: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0):
        batch = read_batch(batch_dir)
        self.directory = batch.directory
        self.manifest = batch.manifest
        self.inputs = {row["task_id"]: row for row in batch.tasks.to_dict("records")}
        self.input_fields = list(batch.tasks.columns)
        self.answer_fields = sorted(field.removeprefix("Answer.") for field in batch.answers)
        self.created = datetime.now(timezone.utc)
        self.assignments: dict[str, Assignment] = {}
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """The index page's URL."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def results_path(self) -> Path:
        """``BATCH/preview_results.csv``."""
        return self.directory / RESULTS_FILE

    def accept(self, task_id: str, worker_id: str) -> str:
        """Open an assignment of ``task_id`` for ``worker_id``; returns its AssignmentId."""
        assignment_id = "PREVIEW" + secrets.token_hex(12).upper()
        with self.lock:
            self.assignments[assignment_id] = Assignment(task_id, worker_id, datetime.now(timezone.utc))
        return assignment_id

    def submit(self, fields: dict[str, list[str]]) -> str:
        """Record a submitted form as a results row; returns what to tell the worker.

        Raises
        ------
        PermissionError
            When the form's ``assignmentId`` is not an accepted assignment (a preview, or unknown).
        """
        assignment_id = (fields.get("assignmentId") or [""])[0]
        assignment = self.assignments.get(assignment_id)
        if assignment is None:
            raise PermissionError(f"assignment {assignment_id or '(none)'} was not accepted: "
                                  "accept the HIT before submitting")
        extra = sorted(set(fields) - set(self.answer_fields) - {"assignmentId"})
        if extra:
            log.warning("submission of %s: ignoring fields %s, not answers of this batch", assignment_id, extra)
        row = self._row(assignment_id, assignment, datetime.now(timezone.utc))
        row.update({f"Answer.{name}": "|".join(fields[name]) for name in self.answer_fields if name in fields})
        with self.lock:
            added = append_results(self.results_path, [row], input_fields=self.input_fields,
                                   answer_fields=self.answer_fields)
        if not added:
            return f"Assignment {assignment_id} was already submitted; nothing was recorded."
        return f"Thank you: assignment {assignment_id} of {assignment.task_id} was recorded."

    def _row(self, assignment_id: str, assignment: Assignment, submitted: datetime) -> dict[str, object]:
        """The batch-results columns of one assignment, besides its answers."""
        hit = self.manifest["hit"]
        return {"HITId": f"PREVIEW{assignment.task_id.upper()}",
                "HITTypeId": "PREVIEW" + re.sub(r"[^A-Z0-9]", "", self.manifest["batch_id"].upper()),
                "Title": hit["title"], "Description": hit["description"], "Keywords": hit["keywords"],
                "Reward": format_reward(hit["reward"]), "CreationTime": format_time(self.created),
                "MaxAssignments": hit["max_assignments"],
                "AssignmentDurationInSeconds": hit["assignment_duration_seconds"],
                "AutoApprovalDelayInSeconds": hit["auto_approval_delay_seconds"],
                "LifetimeInSeconds": hit["lifetime_seconds"], "AssignmentId": assignment_id,
                "WorkerId": assignment.worker_id, "AssignmentStatus": "Submitted",
                "AcceptTime": format_time(assignment.accepted), "SubmitTime": format_time(submitted),
                "WorkTimeInSeconds": int((submitted - assignment.accepted).total_seconds()),
                **{column: format_approval_rate(0, 0) for column in
                   ("LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate")},
                **{f"Input.{name}": value for name, value in self.inputs[assignment.task_id].items()}}

    def results_count(self) -> int:
        """Rows of ``preview_results.csv`` so far."""
        if not self.results_path.is_file():
            return 0
        return len(read_rows(self.results_path)[1])


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        worker = query.get("workerId", DEFAULT_WORKER)
        worker = worker if _WORKER.match(worker) else DEFAULT_WORKER
        parts = url.path.strip("/").split("/")
        if url.path == "/":
            self._page("preview/index.html", heading="All HITs", worker_id=worker, tasks=list(self.server.inputs),
                       study=self.server.manifest["study"], batch_id=self.server.manifest["batch_id"],
                       results=str(self.server.results_path), n_results=self.server.results_count())
        elif len(parts) == 2 and parts[0] == "hit" and parts[1] in self.server.inputs:
            self._frame(parts[1], worker, preview=query.get("mode") != "accept")
        elif len(parts) == 2 and parts[0] in _STATIC and _STATIC[parts[0]][0].match(parts[1]) \
                and (self.server.directory / parts[0] / parts[1]).is_file():
            path = self.server.directory / parts[0] / parts[1]
            self._send(HTTPStatus.OK, path.read_bytes(), _STATIC[parts[0]][1])
        else:
            self._page("preview/message.html", status=HTTPStatus.NOT_FOUND, heading="Not found",
                       message=f"Nothing here: {url.path}", worker_id=worker)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if urlsplit(self.path).path != "/mturk/externalSubmit":
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        fields = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=False)
        worker = DEFAULT_WORKER
        try:
            message = self.server.submit(fields)
            worker = self.server.assignments[fields["assignmentId"][0]].worker_id
            status = HTTPStatus.OK
        except PermissionError as exc:
            message, status = str(exc), HTTPStatus.FORBIDDEN
        self._page("preview/message.html", status=status, heading="Submitted" if status == HTTPStatus.OK
                   else "Not submitted", message=message, worker_id=worker)

    def _frame(self, task_id: str, worker: str, *, preview: bool) -> None:
        assignment = PREVIEW_ASSIGNMENT if preview else self.server.accept(task_id, worker)
        host, port = self.server.server_address[:2]
        parameters = {"assignmentId": assignment, "hitId": f"PREVIEW{task_id.upper()}",
                      "turkSubmitTo": f"http://{host}:{port}", "workerId": worker}
        self._page("preview/frame.html", heading=f"HIT {task_id}", task_id=task_id, worker_id=worker,
                   preview=preview, assignment_id=assignment, src=f"/hits/{task_id}.html?{urlencode(parameters)}")

    def _page(self, template: str, *, status: HTTPStatus = HTTPStatus.OK, **context) -> None:
        body = environment().get_template(template).render(**context).encode("utf-8")
        self._send(status, body, "text/html; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
