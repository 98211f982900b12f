"""A local fake MTurk server speaking the real wire protocol, with fault injection.

It listens on 127.0.0.1 (an ephemeral port by default) and answers MTurk's JSON 1.1 protocol —
``POST /`` with ``X-Amz-Target: MTurkRequesterServiceV20170117.<Operation>`` and
``Content-Type: application/x-amz-json-1.1`` — from a :class:`~studykit.mturk.local.state.FakeMTurk`.
A boto3 client pointed at :attr:`FakeMTurkServer.endpoint_url` therefore exercises botocore's own
serialization, SigV4 signing, retries and error parsing; tests, the local demo and production share
one code path. Faults are injected per request: throttling, 5xx, and a connection dropped after the
operation ran (the case idempotency tokens exist for).

Example
-------
>>> with FakeMTurkServer() as server:                                  # doctest: +SKIP
...     client = make_client(Environment(endpoint_url=server.endpoint_url))
...     server.inject(Fault.DROP_CONNECTION, "CreateHITWithHITType")   # the next create's reply is lost
...     ...                                                            # post a batch with ``client``
...     hit_id = next(iter(server.fake.hits))
...     server.fake.submit_assignment(hit_id, {"choice": "A", "confidence": "3"})
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .state import FakeMTurk, ServiceError

__all__ = ["Fault", "FakeMTurkServer"]

log = logging.getLogger(__name__)

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
CONTENT_TYPE = "application/x-amz-json-1.1"


class Fault(enum.Enum):
    """What the server does to a request instead of (or after) answering it."""

    #: 400 ``ThrottlingException`` "Rate exceeded", before the operation runs (retried by botocore).
    THROTTLE = "throttle"
    #: 500 ``ServiceFault``, before the operation runs (retried by botocore).
    SERVER_ERROR = "server_error"
    #: 504 from a gateway, *after* the operation ran (retried by botocore).
    GATEWAY_TIMEOUT = "gateway_timeout"
    #: The operation ran, then the connection is closed without a reply (retried by botocore).
    DROP_CONNECTION = "drop_connection"


_BEFORE = (Fault.THROTTLE, Fault.SERVER_ERROR)
_ERROR_REPLIES = {
    Fault.THROTTLE: (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
    Fault.SERVER_ERROR: (500, {"__type": "ServiceFault", "Message": "We encountered an internal error.",
                               "TurkErrorCode": "AWS.MechanicalTurk.ServiceFault"}),
}


class _FaultPlan:
    """Pending faults: queued ones (per operation, a number of times) and an optional storm."""

    def __init__(self):
        self._queued: list[list] = []
        self._storm: tuple[Fault, int, str | None] | None = None
        self._storm_count = 0

    def add(self, fault: Fault, operation: str | None, times: int) -> None:
        self._queued.append([fault, operation, times])

    def set_storm(self, storm: tuple[Fault, int, str | None] | None) -> None:
        self._storm, self._storm_count = storm, 0

    def next_fault(self, operation: str) -> Fault | None:
        for entry in self._queued:
            fault, wanted, remaining = entry
            if remaining and wanted in (None, operation):
                entry[2] -= 1
                return fault
        if self._storm is None or self._storm[2] not in (None, operation):
            return None
        self._storm_count += 1
        fault, period, _ = self._storm
        return fault if self._storm_count % period else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "_HTTPServer"

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("fake MTurk: " + format, *args)

    def _reply(self, status: int, body: dict | str) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE if isinstance(body, dict) else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "fake-request")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            return self._reply(403, {"__type": "MissingAuthenticationTokenException",
                                     "message": "Missing Authentication Token"})
        if not target.startswith(TARGET_PREFIX):
            return self._reply(400, {"__type": "UnknownOperationException", "message": f"bad target {target!r}"})
        operation = target[len(TARGET_PREFIX):]
        fault = self.server.owner.record(operation)
        if fault in _BEFORE:
            return self._reply(*_ERROR_REPLIES[fault])
        try:
            status, reply = 200, self.server.owner.fake.handle(operation, json.loads(body or b"{}"))
        except ServiceError as exc:
            status, reply = exc.status, exc.body()
        time.sleep(self.server.owner.reply_delay)
        if fault is Fault.DROP_CONNECTION:
            self.close_connection = True
            return None
        if fault is Fault.GATEWAY_TIMEOUT:
            return self._reply(504, "<html><body>504 Gateway Time-out</body></html>")
        return self._reply(status, reply)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeMTurkServer"


class FakeMTurkServer:
    """A fake MTurk endpoint on 127.0.0.1, served from a background thread.

    Parameters
    ----------
    fake : FakeMTurk, optional
        The account state; a fresh one by default (``server.fake``).
    port : int
        0 (default) for an ephemeral port.
    reply_delay : float
        Seconds between running an operation and replying (a slow network; a client killed in
        that window has made the change without hearing of it).

    Attributes
    ----------
    fake : FakeMTurk
    calls : collections.Counter
        Requests received per operation, retries and faulted ones included.
    """

    def __init__(self, fake: FakeMTurk | None = None, *, port: int = 0, reply_delay: float = 0.0):
        self.fake = fake or FakeMTurk()
        self.reply_delay = reply_delay
        self.calls: Counter = Counter()
        self._faults = _FaultPlan()
        self._lock = threading.Lock()
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake MTurk server is not running; call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeMTurkServer":
        """Start serving; returns self."""
        self._httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-mturk", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> "FakeMTurkServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def record(self, operation: str) -> Fault | None:
        """Count a request for ``operation`` and return the fault to apply to it, if any."""
        with self._lock:
            self.calls[operation] += 1
            return self._faults.next_fault(operation)

    def inject(self, fault: Fault, operation: str | None = None, *, times: int = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests for ``operation`` (any operation if None)."""
        with self._lock:
            self._faults.add(Fault(fault), operation, times)

    def storm(self, fault: Fault = Fault.THROTTLE, *, period: int = 2, operation: str | None = None) -> None:
        """Until :meth:`calm`, apply ``fault`` to all but one request in every ``period`` (requests for
        ``operation`` only, or any operation if None)."""
        if period < 2:
            raise ValueError(f"period must be at least 2 (or no request would ever pass), got {period}")
        with self._lock:
            self._faults.set_storm((Fault(fault), period, operation))

    def calm(self) -> None:
        """End a :meth:`storm`."""
        with self._lock:
            self._faults.set_storm(None)
