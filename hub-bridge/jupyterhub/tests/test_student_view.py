"""What a student reads, from the spawner: failures as one sentence then the details (and
as something JupyterHub shows verbatim, not "HTTP 500"), the queue wait kept alive,
"retrying" while the cluster service is down (bounded, backing off), "ready" with the time
limit, and the spawn form with what each choice gives.

Run: /usr/bin/python3 -m unittest discover -s hub-bridge/jupyterhub/tests
"""

import asyncio
import datetime as dt
import re
import time
import types
import unittest
import zoneinfo

from fake_bridge import SpawnerTestCase, free_port  # also puts the package on sys.path

from jupyterhub.objects import Hub
from tornado import web

from hpc_bridge_spawner import HpcBridgeSpawner, SpawnFailed


def iso(when):
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


async def collect(gen, until=None, timeout=10):
    out = []

    async def run():
        async for ev in gen:
            out.append(ev)
            if until and until(out):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        pass
    return out


class SpawnFailedTests(unittest.TestCase):
    def test_is_an_http_error_that_jupyterhub_shows_verbatim(self):
        e = SpawnFailed("The cluster refused it (100% sure).", "sbatch: error: invalid partition", status=400)
        self.assertIsInstance(e, web.HTTPError)  # JupyterHub 3-5.3 turn anything else into "HTTP 500"
        self.assertEqual(e.status_code, 400)
        # the spawn form shows str(e); the error page log_message % args
        self.assertEqual(str(e), "The cluster refused it (100% sure). Details: sbatch: error: invalid partition")
        self.assertEqual(e.log_message % e.args, "The cluster refused it (100% sure).\n\nsbatch: error: invalid partition")
        self.assertNotIn("HTTP", str(e))
        # JupyterHub tags failures with reason='error', which would replace our text by a canned one
        e.reason = "error"
        self.assertFalse(getattr(e, "reason", ""))

    def test_html_shows_the_sentence_then_the_details_once_escaped(self):
        e = SpawnFailed.from_bridge("Your server stopped <now>.\n\nJob 7 ended.\nLast lines:\n<boom>")
        self.assertEqual(e.sentence, "Your server stopped <now>.")
        h = e.jupyterhub_html_message
        self.assertLess(h.index("Your server stopped &lt;now&gt;."), h.index("<details"))
        self.assertEqual(h.count("&lt;boom&gt;"), 1)
        self.assertNotIn("<boom>", h)
        self.assertIn("#progress-log .hpcb-tick,#progress-log .hpcb-details{display:none}", h)


class EarlyFailureTests(SpawnerTestCase):
    async def test_unavailable_profile_refused_at_once_with_its_reason(self):
        msg = '"GPU" cannot start now: the cluster has no partition "gpu". Pick another choice, and tell support if you need this one.'
        self.bridge.post_error = (400, "profile_unavailable", msg)
        sp = self.make_spawner(user_options={"profile": "gpu"})
        t0 = time.monotonic()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertLess(time.monotonic() - t0, 1)  # in JupyterHub's first second: shown on the form
        self.assertEqual(cm.exception.status_code, 400)
        self.assertEqual(str(cm.exception), msg)

    async def test_a_live_session_conflict_is_retried_once_then_explained(self):
        self.bridge.post_error = (409, "conflict", "user alice already has a live session for server \"\" (s-x, queued); stop it first")
        sp = self.make_spawner()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertEqual(len(self.posts()), 2)  # one new key, then no more
        self.assertEqual(cm.exception.status_code, 409)
        self.assertIn("You already have a server starting or running on the cluster", cm.exception.sentence)
        self.assertIn("live session", cm.exception.details)

    async def test_a_key_conflict_heals_with_one_new_key(self):
        self.bridge.post_errors = [(409, "conflict", "this Idempotency-Key was already used for a different user, server or profile")]
        sp = self.make_spawner()
        sp.idempotency_key = "hbs-old"
        self.assertEqual(await sp.start(), "http://127.0.0.1:43123")
        keys = [r[2].get("Idempotency-Key") for r in self.posts()]
        self.assertEqual(len(keys), 2)
        self.assertNotEqual(keys[0], keys[1])

    async def test_maintenance_is_the_operators_sentence(self):
        self.bridge.post_error = (503, "maintenance", "The cluster is in maintenance until 14:00.")
        sp = self.make_spawner()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertEqual(str(cm.exception), "The cluster is in maintenance until 14:00.")
        self.assertEqual(cm.exception.status_code, 503)
        self.assertEqual(len(self.posts()), 1)

    async def test_bridge_down_retries_back_off_are_bounded_and_say_retrying(self):
        self.bridge.post_error = (503, "internal", "bridge restarting")
        sp = self.make_spawner(create_retry_timeout=3)
        task = asyncio.ensure_future(sp.start())
        events = await collect(sp.progress(), timeout=8)
        with self.assertRaises(SpawnFailed) as cm:
            await task
        self.assertEqual(cm.exception.status_code, 503)
        self.assertIn("The cluster service does not answer", cm.exception.sentence)
        self.assertNotIn("bridge", cm.exception.sentence.lower())
        # 0.5 s doubling (jittered), within 3 s: 3 to 5 attempts, never a storm
        self.assertLessEqual(len(self.posts()), 5)
        self.assertGreaterEqual(len(self.posts()), 2)
        self.assertTrue(events)
        self.assertRegex(events[0]["message"], r"^The cluster service does not answer right now; retrying for another \d+ s\.")


class WaitingTests(SpawnerTestCase):
    async def test_status_errors_back_off(self):
        self.bridge.next_timeline = [{"state": "queued"}] * 1000
        sp = self.make_spawner(status_interval=0.05)
        task = asyncio.ensure_future(sp.start())
        while not sp.session_id:
            await asyncio.sleep(0.01)
        self.bridge.fail_gets = 10_000
        n0 = len(self.bridge.requests)
        await asyncio.sleep(3)
        gets = len(self.bridge.requests) - n0
        # without backoff: 60 requests in 3 s at 0.05 s
        self.assertLessEqual(gets, 10)
        self.assertIsNotNone(sp._trouble)
        await sp.stop(now=True)
        with self.assertRaises(SpawnFailed):
            await task

    async def test_queue_wait_stays_alive_in_local_time_with_a_way_out(self):
        est = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(minutes=20)
        queued = {"state": "queued", "jobId": "4242", "queue": {"position": 3, "estimatedStart": iso(est)}, "reason": "Priority"}
        self.bridge.next_timeline = [queued] * 100000
        self.bridge.next_events = [
            {"seq": 1, "kind": "submitted", "message": "Submitted batch job 4242; waiting in the queue", "progress": 10},
            {"seq": 2, "kind": "queued", "message": "Waiting in the queue: 2 jobs ahead", "progress": 20},
        ]
        sp = self.make_spawner(
            user_options={"tz": "Asia/Tokyo"},
            queue_refresh_interval=1,
            start_timeout=600,
            bridge_service_url="/services/hpc-bridge/",
        )
        task = asyncio.ensure_future(sp.start())
        events = await collect(sp.progress(), until=lambda out: len(out) >= 4, timeout=10)
        await sp.stop(now=True)
        with self.assertRaises(SpawnFailed):
            await task
        queue = [e for e in events if e["message"].startswith("Waiting in the queue for")]
        self.assertGreaterEqual(len(queue), 2, events)  # refreshed, not frozen
        h = queue[-1]["html_message"]
        self.assertIn("2 jobs ahead of yours, other jobs have priority (Priority)", h)
        local = est.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        self.assertRegex(h, rf"start at (tomorrow )?{local} your time <strong>at the latest</strong>")
        self.assertIn("You may close this page", h)
        self.assertRegex(h, r"If it has not started by (tomorrow )?\d\d:\d\d your time, the start is given up")
        self.assertIn(f'href="/services/hpc-bridge/sessions/{sp.session_id or self.bridge.sessions and list(self.bridge.sessions)[0]}"', h)
        self.assertIn("Leave the queue (cancel this start)", h)
        # refreshes are hidden from the event log (class hpcb-tick), the first is not
        self.assertNotIn("hpcb-tick", queue[0]["html_message"].split(">")[0])
        self.assertIn("hpcb-tick", queue[-1]["html_message"].split(">")[0])
        self.assertGreater(queue[-1]["progress"], 19)

    async def test_times_are_utc_and_say_so_without_a_time_zone(self):
        est = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        self.bridge.next_timeline = [{"state": "queued", "queue": {"position": 1, "estimatedStart": iso(est)}}] * 100000
        self.bridge.next_events = [{"seq": 1, "kind": "queued", "message": "Waiting", "progress": 20}]
        sp = self.make_spawner(queue_refresh_interval=1)
        task = asyncio.ensure_future(sp.start())
        events = await collect(sp.progress(), until=lambda out: len(out) >= 2, timeout=10)
        await sp.stop(now=True)
        with self.assertRaises(SpawnFailed):
            await task
        self.assertIn(est.strftime("%H:%M") + " UTC", events[-1]["message"])
        self.assertIn("next in line", events[-1]["message"])

    async def test_start_gives_up_before_the_hub_does_withdraws_the_job_and_says_why(self):
        self.bridge.next_timeline = [{"state": "queued", "jobId": "77", "queue": {"position": 4}, "reason": "Resources"}] * 100000
        sp = self.make_spawner(start_timeout=3)
        t0 = time.monotonic()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertLess(time.monotonic() - t0, 3)  # before JupyterHub's own "Timeout"
        self.assertRegex(
            cm.exception.sentence,
            r"^Your server did not start within the \d s this hub waits: the cluster is busy \(3 jobs ahead of yours, "
            r"waiting for free resources \(Resources\)\)\. The job was withdrawn; try again later or pick a smaller choice \(reference: job 77\)\.$",
        )
        self.assertIn("DELETE", [r[0] for r in self.bridge.requests])
        self.assertEqual(sp.session_id, "")

    async def test_ready_tells_until_when_it_runs(self):
        ends = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) + dt.timedelta(hours=2)
        ready = {"state": "ready", "url": "http://127.0.0.1:43123", "node": "cn-014", "endsAt": iso(ends), "timeLimitSeconds": 7200}
        # (the bridge emits "ready" only once the session is ready: so does this fake)
        self.bridge.next_timeline = [ready]
        self.bridge.next_events = [{"seq": 1, "kind": "ready", "message": "Your server is ready", "progress": 100}]
        sp = self.make_spawner(user_options={"tz": "America/New_York"})
        prog = asyncio.ensure_future(collect(sp.progress()))
        await sp.start()
        events = await prog
        local = ends.astimezone(zoneinfo.ZoneInfo("America/New_York")).strftime("%H:%M")
        self.assertRegex(events[-1]["message"], rf"^Your server is ready on cn-014\. It runs until (tomorrow )?{local} your time \(2 h limit\); save your work before then\.$")

    async def test_a_start_cancelled_by_the_student_ends_with_that(self):
        self.bridge.next_timeline = [{"state": "queued"}] * 3 + [
            {"state": "stopped", "stoppedBy": "user", "message": "The start was cancelled by you: job 9 was withdrawn from the queue and nothing keeps running. Start again whenever you like (reference: job 9)."}
        ]
        sp = self.make_spawner()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertIn("cancelled by you", str(cm.exception))


class FormTests(SpawnerTestCase):
    PROFILES = [
        {"name": "small", "displayName": "Small", "description": "", "resources": {"cpus": 1, "memoryMB": 256, "gpus": 0, "walltime": "00:30:00"}},
        {"name": "big", "displayName": "Big", "description": "Big", "resources": {"cpus": 8, "memoryMB": 32768, "gpus": 0, "walltime": "04:00:00"}},
        {"name": "gpu", "displayName": "GPU", "description": "For deep learning.", "resources": {"cpus": 4, "memoryMB": 16384, "gpus": 1, "walltime": "1-00:00:00"},
         "available": False, "unavailableReason": 'the cluster has no partition "gpu"'},
    ]

    async def test_each_choice_shows_what_it_gives_and_no_name_twice(self):
        self.bridge.profiles = self.PROFILES
        form = await self.make_spawner().get_options_form()
        self.assertIn("1 CPU · 256 MB memory · no GPU · up to 30 min", form)
        self.assertIn("8 CPUs · 32 GB memory · no GPU · up to 4 h", form)
        self.assertIn("4 CPUs · 16 GB memory · 1 GPU · up to 1 day", form)
        self.assertIn("For deep learning.", form)
        for name in ("Small", "Big"):  # no description, or one equal to the name: printed once
            self.assertEqual(len(re.findall(rf">{name}<", form)), 1, name)

    async def test_unavailable_choice_disabled_with_reason_or_hidden(self):
        self.bridge.profiles = self.PROFILES
        form = await self.make_spawner().get_options_form()
        self.assertIn('<input type="radio" name="profile" value="gpu" disabled>', form)
        self.assertIn("Not available now: the cluster has no partition &quot;gpu&quot;.", form)
        self.assertIn('value="small" checked', form)
        hidden = await self.make_spawner(unavailable_profiles="hide").get_options_form()
        self.assertNotIn('value="gpu"', hidden)
        self.assertIn('value="big"', hidden)

    async def test_the_browser_time_zone_comes_with_the_form_and_is_checked(self):
        self.bridge.profiles = self.PROFILES
        form = await self.make_spawner().get_options_form()
        self.assertIn('<input type="hidden" name="tz"', form)
        self.assertIn("Intl.DateTimeFormat().resolvedOptions().timeZone", form)
        sp = HpcBridgeSpawner(user=types.SimpleNamespace(name="alice"), hub=Hub())
        self.assertEqual(sp.run_options_from_form({"profile": ["big"], "tz": ["Europe/Berlin"]}), {"profile": "big", "tz": "Europe/Berlin"})
        for bad in ["../../etc/passwd", "Nowhere/Atlantis", "<b>", "x" * 200]:
            self.assertEqual(sp.run_options_from_form({"profile": ["big"], "tz": [bad]}), {"profile": "big"}, bad)

    async def test_one_choice_gets_a_form_only_when_asked(self):
        self.bridge.profiles = self.PROFILES[:1]
        self.assertEqual(await self.make_spawner().get_options_form(), "")
        form = await self.make_spawner(always_show_form=True).get_options_form()
        self.assertIn("1 CPU · 256 MB memory", form)


if __name__ == "__main__":
    unittest.main()
