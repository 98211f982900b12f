"""Local preview of a batch folder in a browser, recording answers as an MTurk batch-results CSV.

``studykit preview BATCH`` serves the batch's HIT pages on 127.0.0.1 the way MTurk frames them, so
colleagues can pilot a study; :mod:`studykit.analysis` reads ``BATCH/preview_results.csv`` like a file
downloaded from the Requester website.
"""

from .server import PREVIEW_ASSIGNMENT, RESULTS_FILE, PreviewServer

__all__ = ["PreviewServer", "RESULTS_FILE", "PREVIEW_ASSIGNMENT"]
