"""Errors of HpcBridgeSpawner that a student reads."""

import html


class SpawnFailed(RuntimeError):
    """Start failed for a reason the student should read.

    JupyterHub shows ``jupyterhub_message`` (plain text) on the progress page and
    ``jupyterhub_html_message`` on the "not running" page.  The message may be a job
    output tail spanning several lines, hence the ``<pre>``.
    """

    def __init__(self, message):
        message = str(message or "The HPC job failed to start.")
        super().__init__(message)
        self.jupyterhub_message = message
        self.jupyterhub_html_message = (
            '<pre style="white-space: pre-wrap; text-align: left">'
            + html.escape(message)
            + "</pre>"
        )
