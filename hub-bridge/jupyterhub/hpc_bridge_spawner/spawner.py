"""HpcBridgeSpawner: a thin JupyterHub spawner that delegates everything to hpc-bridge.

The bridge (a separate service) submits the batch job, follows it through the queue,
sets up the connection to the compute node and reports one session object.  This
spawner only translates JupyterHub's spawner calls into the bridge's HTTP API:

=================  ===========================================================
JupyterHub         hpc-bridge
=================  ===========================================================
``start()``        ``POST /v1/sessions`` (Idempotency-Key), then
                   ``GET /v1/sessions/:id`` until ``ready`` / ``failed``
``poll()``         ``GET /v1/sessions/:id``
``stop()``         ``DELETE /v1/sessions/:id``
``progress()``     ``GET /v1/sessions/:id/events?after=SEQ`` (+ the queue wait and
                   "retrying", progress.py)
``options_form``   ``GET /v1/profiles`` (the choices with their resources, options_form.py)
``get_url()``      ``GET /v1/sessions/:id`` (recovers the URL after a hub restart)
=================  ===========================================================

What the student reads when something goes wrong (one sentence, then the details) is
SpawnFailed (errors.py); the steps that produce it are in start_steps.py.

Rule of thumb: only a *definite* answer of the bridge (a terminal session state or a
404) ever makes the hub believe a server is gone.  An unreachable bridge, a 5xx or a
scheduler that cannot be asked (``jobState == "unknown"``) means "still running".
"""

import asyncio
import secrets
import time

from jupyterhub.spawner import Spawner
from traitlets import Bool, CaselessStrEnum, Float, Unicode, default

from .bridge_access import BridgeAccessMixin
from .errors import SpawnFailed
from .options_form import PROFILE_RE, OptionsFormMixin, default_options_form
from .progress import ProgressMixin
from .start_steps import MISCONFIGURED, StartStepsMixin, backoff
from .client import (
    BridgeError,
    BridgeNotFound,
    BridgeUnavailable,
)

__all__ = ["HpcBridgeSpawner", "SpawnFailed", "PROFILE_RE"]

TERMINAL_STATES = frozenset({"stopped", "failed"})
PENDING_STATES = frozenset({"submitting", "queued", "starting"})


class HpcBridgeSpawner(BridgeAccessMixin, StartStepsMixin, ProgressMixin, OptionsFormMixin, Spawner):
    """Spawn single-user servers as HPC batch jobs through hpc-bridge."""

    # ---- configuration ------------------------------------------------------------

    bridge_url = Unicode(
        "http://127.0.0.1:8099",
        help="""Base URL of the hpc-bridge HTTP API (without the /v1 suffix).""",
    ).tag(config=True)

    bridge_token_file = Unicode(
        "",
        help="""Path of a file holding the bridge's bearer token.

        Read at every use (surrounding whitespace stripped), so a rotated token is
        picked up without restarting the hub.  Takes precedence over `bridge_token`.
        The file should be readable only by the hub's user (mode 0600).
        """,
    ).tag(config=True)

    bridge_token = Unicode(
        "",
        help="""The bridge's bearer token, as an alternative to `bridge_token_file`
        (which wins when both are set).  Prefer the file: config files are often
        readable by more people than a 0600 token file.
        """,
    ).tag(config=True)

    request_timeout = Float(
        10.0,
        help="""Timeout in seconds of each single HTTP request to the bridge.""",
    ).tag(config=True)

    status_interval = Float(
        0.5,
        help="""While a server is starting, the spawner asks the bridge for the session
        by a long poll (answered the moment its state changes); against a bridge without
        long polls, seconds between two GET /v1/sessions/:id. A failed job is reported to
        the student at most this long after the bridge knows it (not at `start_timeout`).
        """,
    ).tag(config=True)

    progress_interval = Float(
        1.0,
        help="""Seconds between two GET /v1/sessions/:id/events while the spawn
        progress page is open.""",
    ).tag(config=True)

    create_retry_timeout = Float(
        60.0,
        help="""How long start() keeps retrying POST /v1/sessions while the bridge is
        unreachable or answers 5xx.  Retrying is safe: every attempt of one start
        carries the same Idempotency-Key, so at most one job is submitted.
        """,
    ).tag(config=True)

    stop_wait_timeout = Float(
        10.0,
        help="""After DELETE /v1/sessions/:id, how long stop() waits (unless
        `now=True`) for the session to reach `stopped`/`failed`.""",
    ).tag(config=True)

    default_profile = Unicode(
        "",
        help="""Profile requested when the user did not choose one
        ('' = let the bridge use its default profile).""",
    ).tag(config=True)

    @default("env_keep")
    def _env_keep_default(self):
        # The hub's PATH, PYTHONPATH, LANG... describe the hub host, not a compute
        # node; the job gets its environment on the HPC side (as JupyterHub >= 5.2
        # also does for the base Spawner).  Configure env_keep to pass more.
        return ["JUPYTERHUB_SINGLEUSER_APP"]

    @default("options_form")
    def _options_form_default(self):
        return default_options_form

    @default("options_from_form")
    def _options_from_form_default(self):
        return self._profile_options_from_form

    bridge_service_url = Unicode(
        "",
        help="""Path of the bridge's JupyterHub service pages (hubService in hub-bridge.yaml),
        e.g. "/services/hpc-bridge/" (with c.JupyterHub.base_url in front if you set one).
        When set, the progress page links to the session's page there, from which the
        student can leave the queue (cancel a queued start) -- JupyterHub before 5.1 refuses
        to stop a server whose start is pending.""",
    ).tag(config=True)

    unavailable_profiles = CaselessStrEnum(
        ["disable", "hide"],
        default_value="disable",
        help="""What the spawn form does with a profile the bridge marks unavailable (its
        partition does not exist, or is down): "disable" shows it greyed out with the reason,
        "hide" leaves it out (all are shown, disabled, if none is available).""",
    ).tag(config=True)

    always_show_form = Bool(
        False,
        help="""Show the spawn form even when the bridge offers one profile: the student then
        sees what the server gets, and progress times are in the browser's time zone.""",
    ).tag(config=True)

    queue_refresh_interval = Float(
        10.0,
        help="""Seconds between two refreshes of the queue-wait message on the progress page
        (time waited, position, reason, the scheduler's estimate).""",
    ).tag(config=True)

    start_timeout_margin = Float(
        10.0,
        help="""start() gives up this many seconds before JupyterHub's start_timeout, withdraws
        the job and tells the student why in plain words (JupyterHub's own timeout shows
        "Timeout").  At most a tenth of start_timeout.""",
    ).tag(config=True)

    webdav_form = Bool(
        False,
        help="""Show WebDAV share fields (URL, user name, password) on the spawn form. The
        credentials go to the bridge with the start request only (never the hub database,
        never a command line) and end up in a 0600 davfs2 secrets file on the node.
        Requires ``webdav.enabled`` in the cluster's hpc-wrap.yaml.""",
    ).tag(config=True)

    # ---- state ---------------------------------------------------------------------

    #: Id of the bridge session of the current (or last) server.
    session_id = Unicode("")
    #: Idempotency-Key of the start in progress.  Generated once per start, kept in
    #: the spawner state (and deliberately NOT cleared by clear_state()), so that a
    #: start interrupted by a hub restart and retried re-attaches to the same bridge
    #: session instead of submitting a second job.  Dropped whenever a start
    #: concludes (ready/failed/refused), on stop() and when poll() sees the end.
    idempotency_key = Unicode("")

    _stop_requested = False
    _start_aborted = False
    #: The bridge's last answer about the session (progress() reads it; no extra request).
    _last_session = None
    #: Set while the bridge does not answer: {"since", "until", "error"}; None otherwise.
    _trouble = None
    #: Wall-clock time the current start began / will be given up.
    _started_at = None
    _give_up_wall = None
    #: progress() and start() in step: a change wakes progress; "ready" waits for it to be shown.
    _progress_kick = None
    _ready_shown = None
    _progress_watchers = 0

    def load_state(self, state):
        super().load_state(state)
        sid = state.get("session_id") or state.get("hpc_bridge_session_id") or ""
        key = state.get("idempotency_key") or ""
        self.session_id = sid if isinstance(sid, str) else ""
        self.idempotency_key = key if isinstance(key, str) else ""

    def get_state(self):
        state = super().get_state()
        if self.session_id:
            state["session_id"] = self.session_id
        if self.idempotency_key:
            state["idempotency_key"] = self.idempotency_key
        return state

    def clear_state(self):
        super().clear_state()
        self.session_id = ""
        # idempotency_key intentionally kept, see its comment.

    def _forget_session(self):
        """The session is definitely over: forget it and the start's key."""
        self.session_id = ""
        self.idempotency_key = ""

    def _persist_state(self):
        """Write the spawner state to the hub database now (best effort).

        JupyterHub only saves the state after start() returns; the session id and
        Idempotency-Key must survive a hub restart *during* a long queue wait.
        """
        orm_spawner = self.orm_spawner
        if orm_spawner is None:
            return
        try:
            orm_spawner.state = self.get_state()
            if self.db is not None:
                self.db.commit()
        except Exception:
            self.log.warning(
                "Could not persist hpc-bridge state of %s early", self._log_name, exc_info=True
            )

    # ---- lifecycle -----------------------------------------------------------------

    async def start(self):
        self._stop_requested = False
        self._start_aborted = False
        self._last_session = None
        self._trouble = None
        self._started_at = time.time()
        self._give_up_wall = self._started_at + self._own_timeout()
        self._progress_kick = asyncio.Event()
        self._ready_shown = asyncio.Event()
        try:
            return await self._start()
        except BaseException:
            self._start_aborted = True
            raise

    async def _start(self):
        loop = asyncio.get_running_loop()
        profile = self._chosen_profile()
        reused_key = bool(self.idempotency_key)
        if not reused_key:
            self.idempotency_key = "hbs-" + secrets.token_urlsafe(24)
        # Before the first await: JupyterHub commits the db right after calling start().
        self._persist_state()

        body = {
            "user": self.user.name,
            "serverName": self.name or "",
            "env": self.get_env(),
            "command": list(self.cmd) + list(self.get_args()),
        }
        if profile:
            body["profile"] = profile
        webdav = self._take_webdav_credentials()
        if webdav:
            body["webdav"] = webdav

        session = await self._create_session(body)
        if reused_key and self._replay_unusable(session, profile):
            # The interrupted start's session ended meanwhile (or was for another
            # profile): start afresh instead of showing the student an old outcome.
            self.log.info(
                "hpc-bridge session %s of an interrupted start is not reusable; starting anew",
                session.get("id"),
            )
            if session.get("state") not in TERMINAL_STATES:
                try:
                    await self.bridge.delete_session(session["id"])
                except BridgeError as e:
                    self.log.warning("Could not delete session %s: %s", session.get("id"), e)
            self.idempotency_key = "hbs-" + secrets.token_urlsafe(24)
            self._persist_state()
            session = await self._create_session(body)

        self.session_id = session["id"]
        self._persist_state()
        self.log.info(
            "hpc-bridge session %s for %s (profile %s): %s",
            self.session_id,
            self._log_name,
            session.get("profile") or profile or "default",
            session.get("state"),
        )

        # Given up a little before JupyterHub's start_timeout, with a plain message.
        deadline = loop.time() + (self._give_up_wall - time.time())
        failures = 0
        known = None  # the state the bridge last told
        while True:
            if self._stop_requested:
                raise SpawnFailed("The start was stopped before your server was ready.", status=409)
            if session is not None:
                self._last_session = session
                known = session.get("state")
                self._kick_progress()
                url = self._check_started(session)
                if url:
                    await self._let_progress_show_ready()
                    return url
            if loop.time() > deadline:
                await self._give_up()
            if failures:
                await asyncio.sleep(backoff(self.status_interval, failures))
            session = None
            asked = loop.time()
            try:
                # A long poll: the bridge answers the moment the state changes, so "ready" is
                # seen at once; it holds the request at most half the request timeout (a
                # loaded bridge still answers well before the client gives up) and never
                # past the deadline.
                wait = max(1, min(int(self.request_timeout / 2), int(deadline - loop.time())))
                session = await self.bridge.get_session(self.session_id, wait_while=known, wait_seconds=wait)
                failures = 0
                self._trouble = None
                if session.get("state") == known and loop.time() - asked < self.status_interval:
                    # an answer at once with nothing new: a bridge without long polls
                    await asyncio.sleep(self.status_interval - (loop.time() - asked))
            except BridgeNotFound:
                self._forget_session()
                raise SpawnFailed(
                    "The cluster service lost track of your server while it was starting, so it "
                    "was not started: please start it again, and tell support if it happens again."
                ) from None
            except BridgeError as e:
                # Transient (bridge restarting, 5xx) or odd (401 after token
                # rotation): keep waiting, backing off; the deadline bounds the wait.
                failures += 1
                if self._trouble is None:
                    self._trouble = {"since": time.time(), "until": self._give_up_wall, "error": str(e)}
                self.log.warning(
                    "hpc-bridge status of %s (session %s) unavailable, still waiting: %s",
                    self._log_name,
                    self.session_id,
                    e,
                )

    async def _let_progress_show_ready(self):
        """JupyterHub stops reading progress() once start() returns: while someone watches,
        give it a moment to show "ready" with the time limit."""
        if self._progress_watchers and self._ready_shown is not None:
            try:
                await asyncio.wait_for(self._ready_shown.wait(), 2.0)
            except asyncio.TimeoutError:
                pass

    def _replay_unusable(self, session, profile):
        if session.get("state") in TERMINAL_STATES:
            return True
        return bool(profile and session.get("profile") and session.get("profile") != profile)

    def _check_started(self, session):
        """Return the URL when ready, raise when failed/stopped, else None."""
        state = session.get("state")
        if state == "ready":
            url = session.get("url")
            host, port = session.get("host"), session.get("port")
            if not url and isinstance(host, str) and host and isinstance(port, int):
                url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            if not url:
                raise SpawnFailed(MISCONFIGURED, "hpc-bridge reported the session ready but gave no URL.")
            self.idempotency_key = ""  # this start is concluded
            self.log.info("hpc-bridge session %s ready at %s", self.session_id, url)
            return url
        if state in TERMINAL_STATES:
            message = session.get("message") or (
                "The start was stopped before your server was ready."
                if state == "stopped"
                else "Your server could not be started; try again, and tell support if it happens again."
            )
            self.log.warning(
                "hpc-bridge session %s of %s %s: %s",
                self.session_id,
                self._log_name,
                state,
                message,
            )
            self._forget_session()
            raise SpawnFailed.from_bridge(message, status=409 if state == "stopped" else 500)
        return None

    async def poll(self):
        if not self.session_id:
            return 0
        try:
            session = await self.bridge.get_session(self.session_id)
        except BridgeNotFound:
            self.log.warning(
                "hpc-bridge session %s of %s is unknown to the bridge", self.session_id, self._log_name
            )
            self._forget_session()
            return 1
        except BridgeError as e:
            # Unreachable, 5xx, 401, unreadable token...: NEVER report "gone" on that.
            self.log.warning(
                "hpc-bridge poll of %s (session %s) failed, assuming still running: %s",
                self._log_name,
                self.session_id,
                e,
            )
            return None
        state = session.get("state")
        if state in TERMINAL_STATES:
            self.log.info(
                "hpc-bridge session %s of %s is %s: %s",
                self.session_id,
                self._log_name,
                state,
                session.get("message") or "",
            )
            self._forget_session()
            return 1
        # submitting/queued/starting/ready/stopping, including jobState "unknown"
        # (scheduler unreachable): still running as far as the hub is concerned.
        return None

    async def stop(self, now=False):
        self._stop_requested = True
        sid = self.session_id
        self.idempotency_key = ""
        if not sid:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(self.stop_wait_timeout), 1.0)
        # DELETE, retrying transient errors for a while (the bridge may be restarting).
        while True:
            try:
                session = await self.bridge.delete_session(sid)
                break
            except BridgeNotFound:
                return
            except BridgeUnavailable as e:
                if loop.time() > deadline:
                    self.log.error("hpc-bridge unreachable, could not stop session %s: %s", sid, e)
                    raise
                self.log.warning("hpc-bridge unavailable, retrying DELETE of %s: %s", sid, e)
                await asyncio.sleep(1.0)
            except BridgeError as e:
                self.log.error("hpc-bridge refused to stop session %s: %s", sid, e)
                raise
        self.log.info("Asked hpc-bridge to stop session %s of %s", sid, self._log_name)
        if now:
            return
        while not (isinstance(session, dict) and session.get("state") in TERMINAL_STATES):
            if loop.time() > deadline:
                self.log.warning(
                    "hpc-bridge session %s not stopped after %.0f s (state %s); the bridge "
                    "keeps cancelling it",
                    sid,
                    self.stop_wait_timeout,
                    session.get("state") if isinstance(session, dict) else "?",
                )
                return
            await asyncio.sleep(min(0.5, max(self.status_interval, 0.1)))
            try:
                session = await self.bridge.get_session(sid)
            except BridgeNotFound:
                return
            except BridgeError as e:
                self.log.debug("hpc-bridge status of %s unavailable while stopping: %s", sid, e)

    async def get_url(self):
        """Where the server is, asked by JupyterHub after a hub restart.

        If the hub restarted while the job was still queued or starting, wait here
        (bounded by start_timeout) until the bridge reports it ready, so that the
        restarted hub adopts the server instead of giving up on it after
        http_timeout and cancelling a job that waited in the queue.
        """
        fallback = self.server.url if self.server else None
        if not self.session_id:
            return fallback
        base = self.server.base_url if self.server else "/"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(self.start_timeout or 0), 0)
        logged = False
        while True:
            try:
                session = await self.bridge.get_session(self.session_id)
            except BridgeError as e:
                self.log.warning("hpc-bridge url of %s unavailable: %s", self._log_name, e)
                return fallback
            state = session.get("state")
            url = session.get("url")
            if state == "ready" and isinstance(url, str) and url:
                self.idempotency_key = ""  # the (interrupted) start is concluded
                return url.rstrip("/") + base
            if state not in PENDING_STATES or loop.time() > deadline:
                return fallback
            if not logged:
                logged = True
                self.log.info(
                    "hpc-bridge session %s of %s is %s; waiting for it to become ready",
                    self.session_id,
                    self._log_name,
                    state,
                )
            await asyncio.sleep(max(float(self.status_interval), 1.0))
