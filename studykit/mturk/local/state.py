"""An in-memory MTurk requester account: the state behind :mod:`studykit.mturk.local.server`.

:class:`FakeMTurk` implements the operations studykit uses, with MTurk's observable behaviour:
HIT types registered twice with identical values share one id; ``UniqueRequestToken`` makes
CreateHITWithHITType and SendBonus idempotent (``AWS.MechanicalTurk.HitAlreadyExists`` names the
existing HIT); assignments move Submitted -> Approved/Rejected (and auto-approve after the HIT type's
delay); a HIT is Reviewable once expired or full, and can be deleted only then and only with every
assignment reviewed. Faults of the account itself can be arranged: a HIT deleted outside studykit
(:meth:`FakeMTurk.remove_hit`), a ``HitAlreadyExists`` message that names only the token, and a
token memory shorter than MTurk's 24 hours (0: a server that forgets tokens at once).
Requests arrive as the parsed JSON bodies botocore sends; timestamps are epoch
seconds as in MTurk's JSON protocol. Only the standard library is used.
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
import time
from decimal import Decimal

from ..answers import format_answers
from ..preflight import MAX_QUESTION_BYTES

__all__ = ["FakeMTurk", "ServiceError"]

_ID_ALPHABET = string.ascii_uppercase + string.digits
_AMOUNT = re.compile(r"^[0-9]+(\.)?[0-9]{0,2}$")
MAX_NOTIFY_WORKERS = 100
TOKEN_MEMORY_SECONDS = 24 * 3600


class ServiceError(Exception):
    """An error response: HTTP status, ``__type``, message and (for RequestError) ``TurkErrorCode``."""

    def __init__(self, message: str, turk_code: str | None = None, *, kind: str = "RequestError", status: int = 400):
        super().__init__(message)
        self.kind, self.status, self.turk_code = kind, status, turk_code

    def body(self) -> dict:
        body = {"__type": self.kind, "Message": f"{self.args[0]} ({int(time.time() * 1000)})"}
        if self.turk_code:
            body["TurkErrorCode"] = self.turk_code
        return body


def _request_error(message: str, code: str = "AWS.MechanicalTurk.ParameterValidationError") -> ServiceError:
    return ServiceError(message, f"AWS.MechanicalTurk.{code}" if "." not in code else code)


def _page(items: list, params: dict) -> tuple[list, dict]:
    """MaxResults/NextToken pagination over ``items``; the token is the next offset."""
    size = params.get("MaxResults", 10)
    if not 1 <= size <= 100:
        raise _request_error(f"MaxResults must be between 1 and 100, got {size}")
    start = int(params.get("NextToken") or 0)
    page = items[start:start + size]
    extra = {"NextToken": str(start + size)} if start + size < len(items) else {}
    return page, {"NumResults": len(page), **extra}


class FakeMTurk:
    """A requester account in memory; :meth:`handle` answers one API call.

    Parameters
    ----------
    seed : int
        Seeds the generated ids.
    balance : str
        What GetAccountBalance reports.
    token_memory_seconds : float
        How long a ``UniqueRequestToken`` is remembered: MTurk's 24 hours by default, 0 to forget
        every token at once.
    duplicate_message_names_hit : bool
        Whether a ``HitAlreadyExists`` message names the existing HIT (as MTurk documents) or only
        the token.
    """

    #: The operations answered, and the methods answering them.
    OPERATIONS = {
        "GetAccountBalance": "_op_get_account_balance", "CreateHITType": "_op_create_hit_type",
        "CreateHITWithHITType": "_op_create_hit_with_hit_type", "GetHIT": "_op_get_hit",
        "ListHITs": "_op_list_hits", "UpdateExpirationForHIT": "_op_update_expiration_for_hit",
        "DeleteHIT": "_op_delete_hit", "ListAssignmentsForHIT": "_op_list_assignments_for_hit",
        "GetAssignment": "_op_get_assignment", "ApproveAssignment": "_op_approve_assignment",
        "RejectAssignment": "_op_reject_assignment", "SendBonus": "_op_send_bonus",
        "ListBonusPayments": "_op_list_bonus_payments", "NotifyWorkers": "_op_notify_workers",
    }

    def __init__(self, seed: int = 0, balance: str = "10000.00", *,
                 token_memory_seconds: float = TOKEN_MEMORY_SECONDS, duplicate_message_names_hit: bool = True):
        self.token_memory_seconds = token_memory_seconds
        self.duplicate_message_names_hit = duplicate_message_names_hit
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self.balance = balance
        self.hit_types: dict[str, dict] = {}
        self.hits: dict[str, dict] = {}
        self.assignments: dict[str, dict] = {}
        self.bonuses: list[dict] = []
        self.notifications: list[dict] = []
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    # ------------------------------------------------------------------ plumbing
    def handle(self, operation: str, params: dict) -> dict:
        """The response body of ``operation`` called with ``params``; raises :class:`ServiceError`."""
        method = getattr(self, self.OPERATIONS.get(operation, ""), None)
        if method is None:
            raise ServiceError(f"Operation {operation} is not supported by the fake", kind="UnknownOperationException")
        with self._lock:
            try:
                return method(params)
            except KeyError as missing:
                raise _request_error(f"Missing required parameter {missing}") from None

    def _new_id(self, length: int = 30, prefix: str = "") -> str:
        return prefix + "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length - len(prefix)))

    def _remembered(self, operation: str, token: str | None) -> str | None:
        if token is None:
            return None
        found = self._tokens.get((operation, token))
        return found[0] if found and time.time() - found[1] < self.token_memory_seconds else None

    def forget_request_tokens(self) -> None:
        """Forget every UniqueRequestToken, as MTurk does 24 hours after a call."""
        with self._lock:
            self._tokens.clear()

    def remove_hit(self, hit_id: str) -> None:
        """Delete a HIT behind studykit's back (the Requester website, another tool): every call
        naming it then answers ``HITDoesNotExist``, and ListHITs no longer shows it."""
        with self._lock:
            hit = self._hit(hit_id)
            for assignment_id in hit["_assignments"]:
                self.assignments.pop(assignment_id, None)
            del self.hits[hit_id]

    def _hit(self, hit_id: str) -> dict:
        if hit_id not in self.hits:
            raise _request_error(f"Hit {hit_id} does not exist.", "HITDoesNotExist")
        return self.hits[hit_id]

    def _assignment(self, assignment_id: str) -> dict:
        if assignment_id not in self.assignments:
            raise _request_error(f"Assignment {assignment_id} does not exist.", "AssignmentDoesNotExist")
        assignment = self.assignments[assignment_id]
        if assignment["AssignmentStatus"] == "Submitted" and time.time() >= assignment["AutoApprovalTime"]:
            assignment.update(AssignmentStatus="Approved", ApprovalTime=assignment["AutoApprovalTime"])
        return assignment

    def _hit_view(self, hit: dict) -> dict:
        done = [self._assignment(a) for a in hit["_assignments"]]
        expired = time.time() >= hit["Expiration"]
        available = 0 if expired else hit["MaxAssignments"] - len(done)
        status = "Disposed" if hit["_deleted"] else ("Reviewable" if expired or not available else "Assignable")
        reviewed = sum(a["AssignmentStatus"] != "Submitted" for a in done)
        return {**{k: v for k, v in hit.items() if not k.startswith("_")}, "HITStatus": status,
                "NumberOfAssignmentsPending": 0, "NumberOfAssignmentsAvailable": available,
                "NumberOfAssignmentsCompleted": reviewed}

    # ------------------------------------------------------------------ account and HITs
    def _op_get_account_balance(self, params: dict) -> dict:
        return {"AvailableBalance": self.balance, "OnHoldBalance": "0.00"}

    def _op_create_hit_type(self, params: dict) -> dict:
        if not _AMOUNT.match(params["Reward"]):
            raise _request_error(f"Reward {params['Reward']!r} is not a valid amount")
        key = json.dumps(params, sort_keys=True)
        for hit_type_id, hit_type in self.hit_types.items():
            if hit_type["_key"] == key:
                return {"HITTypeId": hit_type_id}
        hit_type_id = self._new_id()
        self.hit_types[hit_type_id] = {**params, "_key": key}
        return {"HITTypeId": hit_type_id}

    def _op_create_hit_with_hit_type(self, params: dict) -> dict:
        existing = self._remembered("CreateHIT", params.get("UniqueRequestToken"))
        if existing:
            named = existing if self.duplicate_message_names_hit else params["UniqueRequestToken"]
            raise _request_error(f"There is already a HIT with this UniqueRequestToken: {named}.",
                                 "HitAlreadyExists")
        hit_type = self.hit_types.get(params["HITTypeId"])
        if hit_type is None:
            raise _request_error(f"HITType {params['HITTypeId']} does not exist.", "HITTypeDoesNotExist")
        question = params.get("Question", "")
        if len(question.encode("utf-8")) > MAX_QUESTION_BYTES:
            raise _request_error("Question is larger than 65535 bytes.", "XMLParseError")
        now, hit_id = time.time(), self._new_id()
        self.hits[hit_id] = {
            "HITId": hit_id, "HITTypeId": params["HITTypeId"], "HITGroupId": params["HITTypeId"],
            "CreationTime": now, "Title": hit_type["Title"], "Description": hit_type["Description"],
            "Question": question, "Keywords": hit_type.get("Keywords", ""), "Reward": hit_type["Reward"],
            "MaxAssignments": params.get("MaxAssignments", 1), "Expiration": now + params["LifetimeInSeconds"],
            "AutoApprovalDelayInSeconds": hit_type.get("AutoApprovalDelayInSeconds", 2_592_000),
            "AssignmentDurationInSeconds": hit_type["AssignmentDurationInSeconds"],
            "RequesterAnnotation": params.get("RequesterAnnotation", ""), "HITReviewStatus": "NotReviewed",
            "QualificationRequirements": hit_type.get("QualificationRequirements", []),
            "_assignments": [], "_deleted": False}
        if params.get("UniqueRequestToken"):
            self._tokens[("CreateHIT", params["UniqueRequestToken"])] = (hit_id, now)
        return {"HIT": self._hit_view(self.hits[hit_id])}

    def _op_get_hit(self, params: dict) -> dict:
        return {"HIT": self._hit_view(self._hit(params["HITId"]))}

    def _op_list_hits(self, params: dict) -> dict:
        listed = [self._hit_view(h) for h in self.hits.values() if not h["_deleted"]]
        page, extra = _page(listed, params)
        return {"HITs": page, **extra}

    def _op_update_expiration_for_hit(self, params: dict) -> dict:
        hit, expire_at, now = self._hit(params["HITId"]), float(params["ExpireAt"]), time.time()
        hit["Expiration"] = expire_at if expire_at > now else min(now, hit["Expiration"])
        return {}

    def _op_delete_hit(self, params: dict) -> dict:
        hit = self._hit(params["HITId"])
        view = self._hit_view(hit)
        if hit["_deleted"]:
            raise _request_error(f"Hit {hit['HITId']} is already deleted.", "InvalidHITState")
        unreviewed = any(self._assignment(a)["AssignmentStatus"] == "Submitted" for a in hit["_assignments"])
        if view["HITStatus"] != "Reviewable" or unreviewed:
            raise _request_error("This HIT is currently in the state 'Assignable' or has unreviewed assignments; "
                                 "it can be deleted only when Reviewable with every assignment reviewed.",
                                 "InvalidHITState")
        hit["_deleted"] = True
        return {}

    # ------------------------------------------------------------------ assignments
    def _op_list_assignments_for_hit(self, params: dict) -> dict:
        hit = self._hit(params["HITId"])
        statuses = params.get("AssignmentStatuses") or ["Submitted", "Approved", "Rejected"]
        listed = [dict(a) for a in map(self._assignment, hit["_assignments"]) if a["AssignmentStatus"] in statuses]
        page, extra = _page(listed, params)
        return {"Assignments": page, **extra}

    def _op_get_assignment(self, params: dict) -> dict:
        assignment = self._assignment(params["AssignmentId"])
        return {"Assignment": dict(assignment), "HIT": self._hit_view(self.hits[assignment["HITId"]])}

    def _review(self, params: dict, status: str, allowed: tuple) -> dict:
        assignment = self._assignment(params["AssignmentId"])
        if assignment["AssignmentStatus"] not in allowed:
            raise _request_error(f"This operation can be called with a status of: {', '.join(allowed)}",
                                 "InvalidAssignmentState")
        assignment.update(AssignmentStatus=status, RequesterFeedback=params.get("RequesterFeedback", ""),
                          **{"ApprovalTime" if status == "Approved" else "RejectionTime": time.time()})
        return {}

    def _op_approve_assignment(self, params: dict) -> dict:
        allowed = ("Submitted", "Rejected") if params.get("OverrideRejection") else ("Submitted",)
        return self._review(params, "Approved", allowed)

    def _op_reject_assignment(self, params: dict) -> dict:
        if not params.get("RequesterFeedback"):
            raise _request_error("RequesterFeedback is required to reject an assignment.")
        return self._review(params, "Rejected", ("Submitted",))

    # ------------------------------------------------------------------ bonuses and messages
    def _op_send_bonus(self, params: dict) -> dict:
        if self._remembered("SendBonus", params.get("UniqueRequestToken")):
            raise _request_error(f'The idempotency token "{params["UniqueRequestToken"]}" has already been processed.',
                                 "DuplicateRequest")
        assignment = self._assignment(params["AssignmentId"])
        if assignment["WorkerId"] != params["WorkerId"]:
            raise _request_error(f"Worker {params['WorkerId']} did not work on assignment {params['AssignmentId']}.")
        if not _AMOUNT.match(params["BonusAmount"]) or Decimal(params["BonusAmount"]) <= 0:
            raise _request_error(f"BonusAmount {params['BonusAmount']!r} is not a valid amount")
        self.bonuses.append({"WorkerId": params["WorkerId"], "BonusAmount": params["BonusAmount"],
                             "AssignmentId": params["AssignmentId"], "Reason": params["Reason"],
                             "GrantTime": time.time()})
        if params.get("UniqueRequestToken"):
            self._tokens[("SendBonus", params["UniqueRequestToken"])] = (params["AssignmentId"], time.time())
        return {}

    def _op_list_bonus_payments(self, params: dict) -> dict:
        hit_id, assignment_id = params.get("HITId"), params.get("AssignmentId")
        if bool(hit_id) == bool(assignment_id):
            raise _request_error("Exactly one of HITId and AssignmentId is required.")
        listed = [dict(b) for b in self.bonuses if b["AssignmentId"] == assignment_id
                  or (hit_id and self.assignments.get(b["AssignmentId"], {}).get("HITId") == hit_id)]
        page, extra = _page(listed, params)
        return {"BonusPayments": page, **extra}

    def _op_notify_workers(self, params: dict) -> dict:
        if len(params["Subject"]) > 200 or len(params["MessageText"]) > 4096:
            raise _request_error("Subject is limited to 200 characters and MessageText to 4096.")
        if not 1 <= len(params["WorkerIds"]) <= MAX_NOTIFY_WORKERS:
            raise _request_error(f"WorkerIds must hold 1 to {MAX_NOTIFY_WORKERS} workers.")
        known = {a["WorkerId"] for a in self.assignments.values() if a["AssignmentStatus"] != "Submitted"}
        self.notifications.append({k: params[k] for k in ("Subject", "MessageText", "WorkerIds")})
        failures = [{"NotifyWorkersFailureCode": "HardFailure", "WorkerId": worker,
                     "NotifyWorkersFailureMessage": "You have not approved or rejected work from this worker."}
                    for worker in params["WorkerIds"] if worker not in known]
        return {"NotifyWorkersFailureStatuses": failures}

    # ------------------------------------------------------------------ simulated workers
    def submit_assignment(self, hit_id: str, answers: dict, *, worker_id: str | None = None,
                          work_seconds: float = 60.0) -> str:
        """A simulated worker accepts and submits one assignment of ``hit_id``.

        Parameters
        ----------
        hit_id : str
        answers : dict
            Form field name to value (a list for same-name checkboxes), as the page would post them.
        worker_id : str, optional
            A generated ``A...`` id by default.
        work_seconds : float
            Time between accepting and submitting.

        Returns
        -------
        str
            The new AssignmentId.

        Raises
        ------
        ValueError
            When the HIT is not Assignable or the worker already did it.
        """
        with self._lock:
            hit = self._hit(hit_id)
            if self._hit_view(hit)["HITStatus"] != "Assignable":
                raise ValueError(f"HIT {hit_id} is not Assignable")
            worker_id = worker_id or self._new_id(14, prefix="A")
            if any(self.assignments[a]["WorkerId"] == worker_id for a in hit["_assignments"]):
                raise ValueError(f"worker {worker_id} already submitted an assignment of HIT {hit_id}")
            now, assignment_id = time.time(), self._new_id()
            self.assignments[assignment_id] = {
                "AssignmentId": assignment_id, "WorkerId": worker_id, "HITId": hit_id,
                "AssignmentStatus": "Submitted", "AcceptTime": now - work_seconds, "SubmitTime": now,
                "AutoApprovalTime": now + hit["AutoApprovalDelayInSeconds"],
                "Deadline": now - work_seconds + hit["AssignmentDurationInSeconds"],
                "Answer": format_answers(answers)}
            hit["_assignments"].append(assignment_id)
            return assignment_id
