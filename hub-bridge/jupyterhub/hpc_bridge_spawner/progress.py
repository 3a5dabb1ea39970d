"""``progress()`` of HpcBridgeSpawner: the bridge's events for JupyterHub's progress page,
plus what keeps a long wait alive -- the queue wait refreshed every
``queue_refresh_interval`` (time waited, position, reason, the scheduler's worst-case
start, what closing the page does, when the start is given up, a link to leave the
queue) and "retrying" while the cluster service does not answer.

A failure is NOT sent as a progress event: JupyterHub sends the exception of start()
as the last event anyway, so the student reads it once (sentence, then details).
"""

import asyncio
import random
import time

from .client import BridgeError, BridgeNotFound
from .messages import esc, event, queue_event, ready_event, retrying_event

TERMINAL_FAILURE_KINDS = frozenset({"failed", "stopped"})


def _seq(ev):
    s = ev.get("seq")
    return s if isinstance(s, int) and not isinstance(s, bool) else 0


class ProgressMixin:
    """Needs from the spawner: bridge, session_id, _last_session, _trouble, _give_up_at,
    _started_at, _start_aborted, _stop_requested, progress_interval,
    queue_refresh_interval, start_timeout, bridge_service_url."""

    def _cancel_url(self, sid):
        base = (self.bridge_service_url or "").strip()
        if not base or not sid:
            return ""
        return base.rstrip("/") + "/sessions/" + sid

    def _queue_progress(self):
        """20 → 45 % while waiting, so that the bar visibly moves."""
        waited = time.time() - (self._started_at or time.time())
        span = max(float(self.start_timeout or 0), 60.0)
        return 20 + min(25, int(25 * waited / span))

    def _trouble_event(self, progress, tick):
        t = self._trouble or {}
        now = time.time()
        if self.session_id:
            give_up = self._give_up_wall
            left = (give_up - now) if give_up else 0
            what = "Your request is kept: nothing is lost while it retries."
            return retrying_event(what, left, self._give_up_dt(), self._student_tz(), progress, tick)
        left = max(0.0, (t.get("until") or now) - now)
        return retrying_event("Nothing has been submitted yet.", left, None, self._student_tz(), 5, tick)

    def _queue_tick(self, tick):
        s = self._last_session or {}
        waited = time.time() - (self._started_at or time.time())
        return queue_event(s, waited, self._give_up_dt(), self._student_tz(), self._cancel_url(self.session_id), self._queue_progress(), tick)

    def _kick_progress(self):
        """start() saw the session change: wake progress() now, not at its next poll."""
        kick = self._progress_kick
        if kick is not None:
            kick.set()

    async def _progress_pause(self, delay):
        kick = self._progress_kick
        if kick is None:
            await asyncio.sleep(delay)
            return
        try:
            await asyncio.wait_for(kick.wait(), delay)
        except asyncio.TimeoutError:
            pass
        kick.clear()

    async def progress(self):
        self._progress_watchers += 1
        try:
            async for item in self._progress():
                yield item
        finally:
            self._progress_watchers -= 1

    async def _progress(self):
        refresh = max(float(self.queue_refresh_interval), 1.0)
        last_yield = 0.0
        trouble_seen = None
        # Before the session exists: the bridge may not answer (start() retries).
        while not self.session_id:
            if self._start_aborted or self._stop_requested:
                return
            if self._trouble and (self._trouble is not trouble_seen or time.monotonic() - last_yield >= refresh):
                yield self._trouble_event(5, tick=self._trouble is trouble_seen)
                trouble_seen = self._trouble
                last_yield = time.monotonic()
            await asyncio.sleep(0.2)
        sid = self.session_id
        after = 0
        errors = 0
        interval = min(max(float(self.progress_interval), 0.2), 5.0)
        while True:
            try:
                events = await self.bridge.list_events(sid, after)
                errors = 0
            except BridgeNotFound:
                return
            except BridgeError as e:
                errors += 1
                self.log.debug("hpc-bridge events of %s unavailable: %s", sid, e)
                events = []
            for ev in sorted(events, key=_seq):
                if _seq(ev) <= after:
                    continue
                after = _seq(ev) or after
                kind = ev.get("kind")
                message = str(ev.get("message") or kind or "")
                if kind in TERMINAL_FAILURE_KINDS:
                    return  # start() raises; JupyterHub shows that once
                if kind == "ready":
                    s = self._last_session or {}
                    if s.get("state") != "ready":  # start() has not seen it yet: ask once
                        try:
                            s = await self.bridge.get_session(sid)
                        except BridgeError:
                            pass
                    self._ready_shown.set()
                    yield ready_event(s, self._student_tz(), message)
                    return
                if kind == "queued" and (self._last_session or {}).get("state") == "queued":
                    yield self._queue_tick(tick=False)
                else:
                    prog = ev.get("progress")
                    prog = prog if isinstance(prog, (int, float)) and not isinstance(prog, bool) else 0
                    yield event(prog, message, f"<p>{esc(message)}</p>")
                last_yield = time.monotonic()
            if self._stop_requested or self.session_id != sid or self._start_aborted:
                return
            state = (self._last_session or {}).get("state")
            if state == "ready":
                # start() is about to return: JupyterHub stops reading progress right then.
                self._ready_shown.set()
                yield ready_event(self._last_session, self._student_tz(), "")
                return
            if time.monotonic() - last_yield >= refresh or (self._trouble and self._trouble is not trouble_seen):
                if self._trouble:
                    yield self._trouble_event(self._queue_progress() if state == "queued" else 30, tick=self._trouble is trouble_seen)
                    trouble_seen = self._trouble
                    last_yield = time.monotonic()
                elif state == "queued":
                    yield self._queue_tick(tick=True)
                    last_yield = time.monotonic()
            # Back off (bounded) while the bridge does not answer.
            delay = min(interval * (2 ** min(errors, 4)), 10.0) if errors else interval
            await self._progress_pause(delay * (0.8 + 0.4 * random.random()) if errors else delay)
