"""Errors of HpcBridgeSpawner that a student reads.

Every failure is ONE plain sentence (what happened, whose problem it is, what to do, a
reference to quote to support) and then, once, the details for support.  The bridge sends
its messages in that shape already: the sentence, a blank line, the details.

Why an ``HTTPError``: JupyterHub (3.0 to 5.3) shows an exception raised in the first
second of a start on the spawn form as ``str(exception)`` -- and replaces anything that
is not a ``tornado.web.HTTPError`` by "HTTP 500: Internal Server Error (Unhandled error
starting server ...)".  Later failures reach the progress page and the "not running" page
through ``jupyterhub_message`` / ``jupyterhub_html_message`` (JupyterHub >= 5.4 also reads
these on the form and the error page).
"""

import html

from tornado import web

from .messages import failure_html


def split_message(message):
    """``(sentence, details)`` of a bridge message (details after the first blank line)."""
    text = str(message or "").strip()
    sentence, sep, details = text.partition("\n\n")
    return sentence.strip(), details.strip() if sep else ""


class SpawnFailed(web.HTTPError):
    """A start failed for a reason the student should read.

    ``status`` only matters where JupyterHub shows an error page for an early failure:
    400 for a refused request, 409 for a conflict, 503 when the cluster (service) is not
    available, 500 otherwise.
    """

    def __init__(self, sentence, details="", status=500):
        sentence = str(sentence or "Your server could not be started.").strip()
        details = str(details or "").strip()
        text = sentence + ("\n\n" + details if details else "")
        # tornado doubles a lone "%" in log_message; JupyterHub renders log_message % args.
        super().__init__(status, text)
        self.sentence = sentence
        self.details = details
        self.jupyterhub_message = text
        self.jupyterhub_html_message = failure_html(sentence, details)

    @classmethod
    def from_bridge(cls, message, status=500, fallback="Your server could not be started."):
        sentence, details = split_message(message or fallback)
        return cls(sentence, details, status)

    # JupyterHub tags a failed start with ``exception.reason = 'error' | 'timeout'`` and its
    # error page then shows a canned text instead of ours; tornado would also put a reason
    # into the HTTP status line.  Keep neither: the message says it all.
    @property
    def reason(self):
        return None

    @reason.setter
    def reason(self, _value):
        pass

    def __str__(self):
        # What JupyterHub's spawn form shows after "Error: " (escaped, one paragraph).
        if not self.details:
            return self.sentence
        return f"{self.sentence} Details: {self.details}"

    def __repr__(self):
        return f"SpawnFailed({self.status_code}, {self.sentence!r})"


def escape(text):
    return html.escape(str(text or ""), quote=True)
