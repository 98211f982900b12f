"""The MTurk client: which endpoint, which retries, and how MTurk's errors read.

A boto3 MTurk client built with ``region_name="us-east-1"`` and no endpoint talks to *production*.
studykit never relies on that default: :class:`Environment` names the endpoint explicitly, the
sandbox unless production is asked for, and an override (``--endpoint-url`` or botocore's standard
``AWS_ENDPOINT_URL_MTURK`` variable) sends the same code path to a local fake or any
MTurk-compatible server. Credentials come only from boto3's standard chain.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

__all__ = [
    "SANDBOX_ENDPOINT", "PRODUCTION_ENDPOINT", "ENDPOINT_VARIABLE", "Environment", "make_client",
    "classify_endpoint", "turk_error_code", "is_turk_error", "describe_error",
]

log = logging.getLogger(__name__)

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
#: botocore's service-specific endpoint variable, honoured here explicitly.
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_MTURK"
REGION = "us-east-1"
#: Total attempts per call (first try included): enough to ride out MTurk's "Rate exceeded".
DEFAULT_MAX_ATTEMPTS = 10
#: Seconds to wait for a TCP connection (an unreachable endpoint fails fast) and for a reply.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
_RETRIED_STATUSES = (429, 500, 502, 503, 504)

_WORKER_SITES = {False: "https://workersandbox.mturk.com", True: "https://www.mturk.com"}


def _host(url: str) -> str:
    """The URL's host name, normalised: lower case, without port or trailing dot."""
    return (urlparse(url).hostname or "").lower().rstrip(".")


def classify_endpoint(url: str) -> str | None:
    """``"production"`` or ``"sandbox"`` when ``url`` is one of MTurk's own endpoints, else None.

    The host is compared after normalisation (case, port, a trailing dot), so
    ``https://MTURK-REQUESTER.us-east-1.amazonaws.com.:443/`` is production.
    """
    host = _host(url)
    if host == _host(SANDBOX_ENDPOINT):
        return "sandbox"
    if host == _host(PRODUCTION_ENDPOINT):
        return "production"
    return None


@dataclass(frozen=True)
class Environment:
    """Where calls go: the MTurk sandbox (default) or production, at an explicit endpoint.

    Parameters
    ----------
    production : bool
        True for real workers and real money.
    endpoint_url : str or None
        Override of the endpoint (a local fake server, an MTurk-compatible service); None for the
        sandbox or production endpoint. :meth:`from_options` fills it from ``AWS_ENDPOINT_URL_MTURK``
        when no URL is given.

    Raises
    ------
    ValueError
        When the override contradicts ``production`` (the production host without
        ``production=True``, or the sandbox host with it), or is not an http(s) URL.
    """

    production: bool = False
    endpoint_url: str | None = None

    def __post_init__(self):
        if self.endpoint_url is None:
            return
        parsed = urlparse(self.endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"endpoint_url must be an http(s) URL, got {self.endpoint_url!r}")
        kind = classify_endpoint(self.endpoint_url)
        if kind == "production" and not self.production:
            raise ValueError(f"endpoint_url {self.endpoint_url!r} is MTurk production; "
                             "production needs production=True (--production)")
        if kind == "sandbox" and self.production:
            raise ValueError(f"endpoint_url {self.endpoint_url!r} is the MTurk sandbox, "
                             "but production=True was asked for")

    @classmethod
    def from_options(cls, production: bool = False, endpoint_url: str | None = None) -> "Environment":
        """The environment for command-line options: ``endpoint_url`` else ``AWS_ENDPOINT_URL_MTURK``."""
        return cls(production=production, endpoint_url=endpoint_url or os.environ.get(ENDPOINT_VARIABLE) or None)

    @property
    def name(self) -> str:
        """``"production"`` or ``"sandbox"``."""
        return "production" if self.production else "sandbox"

    @property
    def label(self) -> str:
        """A file-name-safe name for this environment's results: ``sandbox``, ``production``, or the
        override's host and port (``127.0.0.1-8080``, ``production-127.0.0.1-8080`` with
        ``production=True``), so results from different services or modes never mix."""
        if classify_endpoint(self.endpoint):
            return self.name
        host = re.sub(r"[^A-Za-z0-9.]+", "-", urlparse(self.endpoint).netloc).strip("-")
        return f"production-{host}" if self.production else host

    @property
    def ledger_key(self) -> str:
        """What the ledger files this environment's records under: the canonical endpoint for MTurk's
        own endpoints (however the URL was written), the override URL in sandbox mode, and
        ``production:<URL>`` for production at an override, so the two modes never share records."""
        kind = classify_endpoint(self.endpoint)
        if kind is not None:
            return PRODUCTION_ENDPOINT if kind == "production" else SANDBOX_ENDPOINT
        return f"production:{self.endpoint}" if self.production else self.endpoint

    @property
    def endpoint(self) -> str:
        """The URL every call goes to."""
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/")
        return PRODUCTION_ENDPOINT if self.production else SANDBOX_ENDPOINT

    @property
    def worker_site(self) -> str:
        """The worker website of this environment (HIT previews live there)."""
        return _WORKER_SITES[self.production]

    def describe(self) -> str:
        """One line naming the environment and endpoint, e.g. for printing before posting."""
        return f"MTurk {self.name.upper()} at {self.endpoint}"


def make_client(environment: Environment, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
    """A boto3 MTurk client for ``environment``.

    Parameters
    ----------
    environment : Environment
    max_attempts : int
        Total attempts per call with botocore's ``standard`` retry mode (exponential backoff with
        jitter on ``ThrottlingException``, 5xx responses and dropped connections). Each retry is
        logged at WARNING (logger ``studykit.mturk.client``) with its reason.

    Returns
    -------
    botocore.client.MTurk

    Notes
    -----
    Credentials are resolved by boto3's standard chain (environment, shared files, SSO, instance
    roles); studykit never reads, writes or logs them.
    """
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be a positive integer, got {max_attempts!r}")
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                    connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
    client = boto3.client("mturk", region_name=REGION, endpoint_url=environment.endpoint, config=config)
    client.meta.events.register("needs-retry.mturk", _RetryLogger(max_attempts))
    return client


class _RetryLogger:
    """A ``needs-retry`` listener that logs each failed attempt botocore is about to retry (it answers
    None, so botocore's own retry handler still decides)."""

    def __init__(self, max_attempts: int):
        self.max_attempts = max_attempts

    def __call__(self, attempts, operation=None, response=None, caught_exception=None, **kwargs):
        if attempts >= self.max_attempts:
            return None
        if caught_exception is not None:
            reason = f"{type(caught_exception).__name__}: {caught_exception}"
        else:
            http, parsed = response if response else (None, {})
            status = getattr(http, "status_code", 200)
            code = (parsed or {}).get("Error", {}).get("Code", "")
            if status not in _RETRIED_STATUSES and "Throttl" not in code:
                return None
            reason = f"HTTP {status} {code}".strip()
        name = getattr(operation, "name", "call")
        log.warning("MTurk %s: %s; retrying (attempt %d of %d)", name, reason, attempts + 1, self.max_attempts)
        return None


def turk_error_code(error) -> str | None:
    """The ``TurkErrorCode`` of a botocore ``ClientError`` (e.g. ``AWS.MechanicalTurk.HitAlreadyExists``).

    botocore keeps it at the top level of ``error.response``; None when the error carries none.
    """
    response = getattr(error, "response", None) or {}
    return response.get("TurkErrorCode") or response.get("Error", {}).get("TurkErrorCode")


def is_turk_error(error, code: str) -> bool:
    """Whether ``error`` is a botocore ``ClientError`` whose ``TurkErrorCode`` is ``code``."""
    return turk_error_code(error) == code


def describe_error(error) -> str:
    """``"<TurkErrorCode or error code>: <message>"`` for a botocore ``ClientError``."""
    details = getattr(error, "response", {}).get("Error", {})
    return f"{turk_error_code(error) or details.get('Code', 'Error')}: {details.get('Message', '')}"
