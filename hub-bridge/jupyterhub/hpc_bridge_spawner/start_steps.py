"""The steps of a start that talk to the student when something goes wrong: creating the
bridge session (retries that back off and are bounded, a conflict retried once, never
blindly), the start's own deadline (a little before JupyterHub's start_timeout, so the
student reads why instead of "Timeout"), and giving up (the job is withdrawn)."""

import asyncio
import datetime as _dt
import random
import secrets
import time

from .client import BridgeConfigError, BridgeError, BridgeUnavailable
from .errors import SpawnFailed
from .messages import duration, position_text, reason_text

#: Longest pause between two requests to a bridge that does not answer (never a storm).
MAX_BACKOFF = 5.0

#: What the student reads when the cluster service (the bridge) cannot be used.
UNREACHABLE = (
    "The cluster service does not answer, so your server could not be started and nothing was "
    "submitted: try again in a few minutes, and tell support if it persists (it is not a problem "
    "with your account or files)."
)
MISCONFIGURED = (
    "The hub cannot talk to the cluster service (a setup problem on our side, not yours), so "
    "nothing was started: please tell support."
)


def backoff(base, failures):
    """Exponential, jittered, bounded pause after ``failures`` failed requests."""
    delay = min(max(float(base), 0.05) * (2 ** min(failures, 8)), MAX_BACKOFF)
    return delay * (0.8 + 0.4 * random.random())


class StartStepsMixin:
    """Needs from the spawner: bridge, idempotency_key, session_id, start_timeout,
    start_timeout_margin, create_retry_timeout, _persist_state, _forget_session."""

    def _give_up_dt(self):
        if not self._give_up_wall:
            return None
        return _dt.datetime.fromtimestamp(self._give_up_wall, _dt.timezone.utc)

    def _own_timeout(self):
        """How long start() waits: JupyterHub's start_timeout less a margin."""
        total = max(float(self.start_timeout or 0), 0.0)
        return max(total - min(max(float(self.start_timeout_margin), 0.0), total / 10), 1.0)

    async def _give_up(self):
        """The start took as long as the hub waits: withdraw the job and say why."""
        s = self._last_session or {}
        queue = s.get("queue") if isinstance(s.get("queue"), dict) else {}
        job = s.get("jobId")
        sid = self.session_id
        try:
            await self.bridge.delete_session(sid)
        except BridgeError as e:
            self.log.warning("Could not withdraw session %s after the start timeout: %s", sid, e)
        self._forget_session()
        waited = duration(self._own_timeout())
        if s.get("state") == "queued" or not s:
            where = ", ".join(x for x in (position_text(queue.get("position")), reason_text(s.get("reason"))) if x)
            busy = f"the cluster is busy ({where})" if where else "the cluster is busy"
            what = "try again later or pick a smaller choice"
        else:
            busy = "it was still starting"
            what = "try again, and tell support if it happens again"
        ref = f"job {job}" if job else f"session {s.get('number') or sid}"
        raise SpawnFailed(
            f"Your server did not start within the {waited} this hub waits: {busy}. "
            f"The job was withdrawn; {what} (reference: {ref}).",
            status=503,
        )

    async def _create_session(self, body):
        """POST /v1/sessions.  Transient errors are retried with the same Idempotency-Key
        (at most one job), backing off, for at most ``create_retry_timeout``; a conflict is
        retried once with a new key, never blindly; anything else is the student's answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(self.create_retry_timeout), 0)
        failures = 0
        renewed_key = False
        try:
            while True:
                if self._stop_requested:
                    raise SpawnFailed("The start was stopped before your server was ready.", status=409)
                try:
                    _status, session = await self.bridge.create_session(body, self.idempotency_key)
                    return session
                except BridgeConfigError as e:
                    self.log.error("HpcBridgeSpawner misconfigured: %s", e)
                    self.idempotency_key = ""
                    raise SpawnFailed(MISCONFIGURED, status=500) from None
                except BridgeUnavailable as e:
                    if e.code == "maintenance":
                        self.idempotency_key = ""
                        raise SpawnFailed.from_bridge(e.message, status=503) from None
                    delay = backoff(0.5, failures)
                    failures += 1
                    if loop.time() + delay > deadline:
                        self.log.error("hpc-bridge unavailable, giving up start of %s: %s", self._log_name, e)
                        raise SpawnFailed(UNREACHABLE, e.message, status=503) from None
                    self._trouble = {"since": self._trouble["since"] if self._trouble else time.time(),
                                     "until": time.time() + (deadline - loop.time()), "error": e.message}
                    self.log.warning("hpc-bridge unavailable, retrying POST /v1/sessions in %.1f s: %s", delay, e)
                    await asyncio.sleep(delay)
                except BridgeError as e:
                    if e.status == 409 and self.idempotency_key and e.code == "conflict" and not renewed_key:
                        # Maybe the key of an earlier start with another body: once, afresh.
                        self.log.info("hpc-bridge refused the start's Idempotency-Key; trying once with a new one")
                        renewed_key = True
                        self.idempotency_key = "hbs-" + secrets.token_urlsafe(24)
                        self._persist_state()
                        continue
                    self.idempotency_key = ""
                    self.log.warning(
                        "hpc-bridge refused to start %s: HTTP %s %s: %s",
                        self._log_name,
                        e.status,
                        e.code,
                        e.message,
                    )
                    raise self._refusal(e) from None
        finally:
            self._trouble = None

    @staticmethod
    def _refusal(e):
        """What the student reads when the bridge refuses a start (a definite 4xx)."""
        if e.code == "profile_unavailable":
            return SpawnFailed.from_bridge(e.message, status=400)
        if e.status == 409:
            return SpawnFailed(
                "You already have a server starting or running on the cluster, so no second one "
                "was started: open it from the Home page, or stop it there (or cancel it on your "
                "sessions page) and start again.",
                e.message,
                status=409,
            )
        if e.status in (401, 403):
            return SpawnFailed(MISCONFIGURED, f"hpc-bridge answered HTTP {e.status}: {e.message}", status=500)
        return SpawnFailed(
            "The cluster service refused this start request, so nothing was started: pick "
            "another choice, and tell support if it happens again.",
            e.message,
            status=400,
        )
