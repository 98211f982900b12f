"""Talking to a running preview server as a worker's browser would (imported by name by the preview tests)."""

import urllib.error
import urllib.parse
import urllib.request


def submit(server, fields):
    """POST ``fields`` (pairs) to the server's externalSubmit; returns ``(status, body)``, errors included."""
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(f"{server.url}mturk/externalSubmit", data=data) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
