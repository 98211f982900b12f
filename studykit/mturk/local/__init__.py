"""A local MTurk for tests and the demo: an HTTP server speaking MTurk's JSON protocol on 127.0.0.1.

- :mod:`studykit.mturk.local.server`: :class:`FakeMTurkServer`, the HTTP endpoint (SigV4 header
  check, ``X-Amz-Target`` dispatch) with fault injection (throttling, 5xx, dropped replies);
- :mod:`studykit.mturk.local.state`: :class:`FakeMTurk`, the in-memory requester account behind it
  (HITs, assignments, bonuses, idempotency tokens) and its simulated workers.

Not used when talking to MTurk itself; boto3 pointed at ``server.endpoint_url`` runs the same code
path as against the sandbox.
"""

from .server import FakeMTurkServer, Fault
from .state import FakeMTurk, ServiceError

__all__ = ["FakeMTurkServer", "Fault", "FakeMTurk", "ServiceError"]
