"""Unit tests of HpcBridgeSpawner against a fake hpc-bridge (stdlib unittest + tornado).

Run from the repository root:

    /usr/bin/python3 -m unittest discover -s hub-bridge/jupyterhub/tests

The fake bridge (fake_bridge.py) is a test double of OUR OWN API (docs/contracts.md,
section 6): canned sessions whose state advances one step per GET.
"""

import asyncio
import json
import os
import tempfile
import time
import types
import unittest

from fake_bridge import TOKEN, SpawnerTestCase, free_port  # also puts the package on sys.path

from jupyterhub.objects import Hub

from hpc_bridge_spawner import HpcBridgeSpawner, SpawnFailed


class StartTests(SpawnerTestCase):
    async def test_start_ready_returns_url(self):
        self.bridge.next_timeline = [
            {"state": "queued", "jobId": "123", "jobState": "pending"},
            {"state": "starting", "jobState": "running"},
            {"state": "ready", "url": "http://127.0.0.1:43123", "jobState": "running"},
        ]
        sp = self.make_spawner(user_options={"profile": "big"}, cmd=["jupyterhub-singleuser"], args=["--debug"])
        url = await sp.start()
        self.assertEqual(url, "http://127.0.0.1:43123")
        self.assertTrue(sp.session_id.startswith("s-"))
        (method, path, headers, body), = self.posts()
        self.assertEqual(path, "/v1/sessions")
        self.assertEqual(body["user"], "alice")
        self.assertEqual(body["serverName"], "")
        self.assertEqual(body["profile"], "big")
        self.assertEqual(body["command"], ["jupyterhub-singleuser", "--debug"])
        self.assertEqual(body["env"]["JUPYTERHUB_API_TOKEN"], "hub-api-token-secret")
        self.assertNotIn("PATH", body["env"])  # env_keep default narrowed
        self.assertTrue(headers.get("Idempotency-Key"))
        # the start concluded: the key is dropped, the session is kept
        self.assertEqual(sp.get_state(), {"session_id": sp.session_id})

    async def test_start_waits_by_long_poll_on_the_state_it_knows(self):
        # each status request after the first asks the bridge to answer only once the
        # state it last told has changed (within the request timeout), so "ready" is seen
        # the moment the bridge knows it instead of at the next poll
        self.bridge.next_timeline = [{"state": "queued"}, {"state": "starting"}, {"state": "ready", "url": "http://127.0.0.1:43123"}]
        sp = self.make_spawner(request_timeout=10)
        url = await sp.start()
        self.assertEqual(url, "http://127.0.0.1:43123")
        asked = self.bridge.session_queries
        self.assertEqual([q.get("waitWhile") for q in asked], ["submitting", "queued", "starting"])
        self.assertTrue(all(q.get("waitSeconds") == "5" for q in asked), asked)

    async def test_start_is_not_queued_behind_jupyterhubs_own_requests(self):
        # JupyterHub's AsyncHTTPClient() runs at most 10 requests at once (its proxy calls,
        # its wait for each new server): the spawner's requests do not go through it, so
        # ten slow requests of the hub's own do not hold a start up, nor the other way round
        from tornado.httpclient import AsyncHTTPClient

        hub_own = [asyncio.ensure_future(AsyncHTTPClient().fetch(self.url + "/hang", request_timeout=60)) for _ in range(10)]
        await asyncio.sleep(0.2)
        sp = self.make_spawner()
        url = await asyncio.wait_for(sp.start(), 10)
        self.assertEqual(url, "http://127.0.0.1:43123")
        self.bridge.release.set()
        for f in hub_own:
            self.assertEqual((await f).body, b"late")

    async def test_start_without_profile_omits_it(self):
        sp = self.make_spawner()
        await sp.start()
        body = self.posts()[0][3]
        self.assertNotIn("profile", body)

    async def test_default_profile_used(self):
        sp = self.make_spawner(default_profile="big")
        await sp.start()
        self.assertEqual(self.posts()[0][3]["profile"], "big")

    async def test_start_failed_raises_bridge_message_quickly(self):
        msg = "sbatch: error: Invalid account or account/partition combination\n--- job output ---\nboom"
        self.bridge.next_timeline = [
            {"state": "queued", "jobState": "pending"},
            {"state": "failed", "jobState": "failed", "message": msg},
        ]
        sp = self.make_spawner(start_timeout=600)
        t0 = time.monotonic()
        with self.assertRaises(SpawnFailed) as cm:
            await sp.start()
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(str(cm.exception), msg)
        self.assertEqual(cm.exception.jupyterhub_message, msg)
        self.assertIn("&lt;", SpawnFailed("<b>").jupyterhub_html_message)
        self.assertEqual(sp.session_id, "")
        self.assertEqual(sp.get_state(), {})

    async def test_start_stopped_raises(self):
        self.bridge.next_timeline = [{"state": "stopped", "message": "cancelled by admin"}]
        sp = self.make_spawner()
        with self.assertRaisesRegex(SpawnFailed, "cancelled by admin"):
            await sp.start()

    async def test_transient_errors_while_waiting_are_tolerated(self):
        self.bridge.fail_gets = 3
        sp = self.make_spawner()
        url = await sp.start()
        self.assertEqual(url, "http://127.0.0.1:43123")

    async def test_post_4xx_raises_bridge_message(self):
        self.bridge.post_error = (400, "bad_request", "unknown profile 'huge'")
        sp = self.make_spawner(user_options={"profile": "huge"})
        with self.assertRaisesRegex(SpawnFailed, "unknown profile 'huge'"):
            await sp.start()
        self.assertEqual(sp.idempotency_key, "")

    async def test_post_maintenance_raises_quickly(self):
        self.bridge.post_error = (503, "maintenance", "The cluster is in maintenance until 14:00.")
        sp = self.make_spawner()
        with self.assertRaisesRegex(SpawnFailed, "maintenance until 14:00"):
            await sp.start()
        self.assertEqual(len(self.posts()), 1)

    async def test_bad_token_raises(self):
        sp = self.make_spawner(bridge_token="wrong")
        with self.assertRaisesRegex(SpawnFailed, "bad token"):
            await sp.start()

    async def test_invalid_profile_in_user_options_refused(self):
        for bad in ["../etc", "gpu\n", 42]:
            sp = self.make_spawner(user_options={"profile": bad})
            with self.assertRaises(SpawnFailed):
                await sp.start()
        self.assertEqual(self.posts(), [])

    async def test_interrupted_start_reuses_idempotency_key(self):
        # first start: the hub "dies" while the job is queued
        self.bridge.next_timeline = [{"state": "queued"}] * 1000
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        while not sp.session_id:
            await asyncio.sleep(0.01)
        state = sp.get_state()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertIn("idempotency_key", state)
        first_sid = state["session_id"]

        # new hub process: load_state, then JupyterHub's spawn clears state and starts
        self.bridge.timelines[first_sid] = [{"state": "ready", "url": "http://127.0.0.1:40000"}]
        sp2 = self.make_spawner()
        sp2.load_state(state)
        sp2.clear_state()
        self.assertEqual(sp2.session_id, "")
        url = await sp2.start()
        self.assertEqual(url, "http://127.0.0.1:40000")
        self.assertEqual(sp2.session_id, first_sid)
        keys = [r[2].get("Idempotency-Key") for r in self.posts()]
        self.assertEqual(keys[0], keys[1])
        self.assertEqual(len(self.bridge.sessions), 1)

    async def test_reused_key_with_finished_session_starts_anew(self):
        self.bridge.next_timeline = [{"state": "queued"}] * 1000
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        while not sp.session_id:
            await asyncio.sleep(0.01)
        state = sp.get_state()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        first_sid = state["session_id"]
        self.bridge.sessions[first_sid]["state"] = "failed"
        self.bridge.timelines[first_sid] = []
        self.bridge.next_timeline = [{"state": "ready", "url": "http://127.0.0.1:40001"}]

        sp2 = self.make_spawner()
        sp2.load_state(state)
        sp2.clear_state()
        url = await sp2.start()
        self.assertEqual(url, "http://127.0.0.1:40001")
        self.assertNotEqual(sp2.session_id, first_sid)

    async def test_token_file_wins_and_is_read_at_use(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write("  " + TOKEN + "\n")
            sp = self.make_spawner(bridge_token="wrong", bridge_token_file=path)
            await sp.start()
            self.assertEqual(self.posts()[0][2]["Authorization"], "Bearer " + TOKEN)
            with open(path, "w") as f:
                f.write("rotated\n")
            self.assertEqual(sp._read_token(), "rotated")

    async def test_token_with_whitespace_refused_without_leaking_it(self):
        sp = self.make_spawner(bridge_token="abc def")
        with self.assertLogs(sp.log, level="DEBUG") as logs:
            with self.assertRaises(SpawnFailed) as cm:
                await sp.start()
            sp.load_state({"session_id": "s-" + "f" * 26})
            self.assertIsNone(await sp.poll())
        self.assertNotIn("abc def", "\n".join(logs.output) + str(cm.exception))
        self.assertEqual(self.posts(), [])

    async def test_token_and_env_not_logged(self):
        sp = self.make_spawner()
        with self.assertLogs(sp.log, level="DEBUG") as logs:
            sp.log.debug("marker")
            await sp.start()
            self.bridge.post_error = (400, "bad_request", "nope")
            with self.assertRaises(SpawnFailed):
                await sp.start()
        text = "\n".join(logs.output)
        self.assertNotIn(TOKEN, text)
        self.assertNotIn("hub-api-token-secret", text)


class PollTests(SpawnerTestCase):
    async def test_poll_without_session_is_0(self):
        sp = self.make_spawner()
        self.assertEqual(await sp.poll(), 0)

    async def test_poll_bridge_down_is_none(self):
        sp = self.make_spawner(bridge_url=f"http://127.0.0.1:{free_port()}", request_timeout=2)
        sp.load_state({"session_id": "s-" + "a" * 26})
        self.assertIsNone(await sp.poll())
        self.assertEqual(sp.session_id, "s-" + "a" * 26)

    async def test_poll_5xx_is_none(self):
        sp = self.make_spawner()
        await sp.start()
        self.bridge.fail_gets = 1
        self.assertIsNone(await sp.poll())

    async def test_poll_unreadable_token_file_is_none(self):
        sp = self.make_spawner()
        await sp.start()
        sp.bridge_token_file = "/nonexistent/token"
        self.assertIsNone(await sp.poll())

    async def test_poll_job_state_unknown_is_none(self):
        sp = self.make_spawner()
        await sp.start()
        self.bridge.timelines[sp.session_id] = [
            {"state": "ready", "jobState": "unknown", "schedulerReachable": False}
        ]
        self.assertIsNone(await sp.poll())
        self.assertTrue(sp.session_id)

    async def test_poll_running_is_none(self):
        sp = self.make_spawner()
        await sp.start()
        self.assertIsNone(await sp.poll())

    async def test_poll_stopped_is_1_and_clears(self):
        sp = self.make_spawner()
        await sp.start()
        self.bridge.timelines[sp.session_id] = [{"state": "stopped", "jobState": "completed"}]
        self.assertEqual(await sp.poll(), 1)
        self.assertEqual(sp.session_id, "")
        self.assertEqual(sp.get_state(), {})

    async def test_poll_failed_is_1(self):
        sp = self.make_spawner()
        await sp.start()
        self.bridge.timelines[sp.session_id] = [{"state": "failed", "message": "node died"}]
        self.assertEqual(await sp.poll(), 1)

    async def test_poll_404_is_1(self):
        sp = self.make_spawner()
        sp.load_state({"session_id": "s-" + "b" * 26})
        self.assertEqual(await sp.poll(), 1)


class GetUrlTests(SpawnerTestCase):
    async def test_get_url_of_ready_session(self):
        sp = self.make_spawner()
        await sp.start()
        self.assertEqual(await sp.get_url(), "http://127.0.0.1:43123/")

    async def test_get_url_waits_for_pending_session_after_restart(self):
        # hub restarted while the job was queued: get_url waits until it is ready
        self.bridge.next_timeline = [{"state": "queued"}] * 1000
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        while not sp.session_id:
            await asyncio.sleep(0.01)
        state = sp.get_state()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        sid = state["session_id"]
        self.bridge.timelines[sid] = [{"state": "queued"}, {"state": "starting"},
                                      {"state": "ready", "url": "http://127.0.0.1:40002"}]
        sp2 = self.make_spawner(status_interval=0.01)
        sp2.load_state(state)
        url = await asyncio.wait_for(sp2.get_url(), 10)
        self.assertEqual(url, "http://127.0.0.1:40002/")
        self.assertEqual(sp2.get_state(), {"session_id": sid})

    async def test_get_url_bridge_down_falls_back(self):
        sp = self.make_spawner(bridge_url=f"http://127.0.0.1:{free_port()}", request_timeout=2)
        sp.load_state({"session_id": "s-" + "e" * 26})
        self.assertIsNone(await sp.get_url())  # no server in this test: fallback None


class StopTests(SpawnerTestCase):
    async def test_stop_deletes_and_waits(self):
        sp = self.make_spawner()
        await sp.start()
        sid = sp.session_id
        await sp.stop()
        self.assertIn(("DELETE", "/v1/sessions/" + sid), [(r[0], r[1]) for r in self.bridge.requests])
        self.assertEqual(self.bridge.sessions[sid]["state"], "stopped")

    async def test_stop_now_does_not_wait(self):
        sp = self.make_spawner()
        await sp.start()
        sid = sp.session_id
        await sp.stop(now=True)
        self.assertEqual(self.bridge.sessions[sid]["state"], "stopping")

    async def test_stop_unknown_session_is_fine(self):
        sp = self.make_spawner()
        sp.load_state({"session_id": "s-" + "c" * 26})
        await sp.stop()

    async def test_stop_without_session(self):
        sp = self.make_spawner()
        await sp.stop()
        self.assertEqual(self.bridge.requests, [])

    async def test_stop_during_start_ends_start(self):
        self.bridge.next_timeline = [{"state": "queued"}] * 1000
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        while not sp.session_id:
            await asyncio.sleep(0.01)
        await sp.stop(now=True)
        with self.assertRaises(SpawnFailed):
            await asyncio.wait_for(task, 5)


class ProgressTests(SpawnerTestCase):
    async def test_progress_yields_events_and_ends_on_ready(self):
        self.bridge.next_timeline = [{"state": "queued"}] * 6 + [
            {"state": "ready", "url": "http://127.0.0.1:43123"}
        ]
        self.bridge.next_events = [
            {"seq": 1, "kind": "submitted", "message": "Submitted job 123", "progress": 10},
            {"seq": 2, "kind": "info", "message": "Your overlay <was> recreated", "progress": 40},
            {"seq": 3, "kind": "running", "message": "Running on cn-014", "progress": 60},
            {"seq": 4, "kind": "ready", "message": "Server ready", "progress": 100},
            {"seq": 5, "kind": "info", "message": "after the end", "progress": 100},
        ]
        sp = self.make_spawner()

        async def collect():
            out = []
            async for ev in sp.progress():
                out.append(ev)
            return out

        prog = asyncio.ensure_future(collect())
        await asyncio.sleep(0.1)  # progress starts before the session exists
        url = await sp.start()
        events = await asyncio.wait_for(prog, 5)
        self.assertEqual(url, "http://127.0.0.1:43123")
        self.assertEqual(
            [(e["progress"], e["message"]) for e in events],
            [(10, "Submitted job 123"), (40, "Your overlay <was> recreated"), (60, "Running on cn-014"), (100, "Server ready")],
        )
        # the HTML form is escaped
        self.assertIn("Your overlay &lt;was&gt; recreated", events[1]["html_message"])
        self.assertNotIn("<was>", events[1]["html_message"])
        after = [r[1] for r in self.bridge.requests if r[1].endswith("/events")]
        self.assertTrue(after)

    async def test_progress_does_not_repeat_the_failure(self):
        # JupyterHub sends start()'s exception as the last event: the bridge's failed event
        # is not sent too (the student reads the failure once).
        self.bridge.next_timeline = [{"state": "queued"}] * 6 + [
            {"state": "failed", "message": "Your server stopped while it was starting.\n\nJob 1 ended: OOM"}
        ]
        self.bridge.next_events = [
            {"seq": 1, "kind": "submitted", "message": "Submitted", "progress": 10},
            {"seq": 2, "kind": "failed", "message": "Your server stopped while it was starting.\n\nJob 1 ended: OOM", "progress": 100},
        ]
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        events = []
        async for ev in sp.progress():
            events.append(ev)
        self.assertEqual([e["message"] for e in events], ["Submitted"])
        with self.assertRaises(SpawnFailed) as cm:
            await task
        self.assertEqual(cm.exception.sentence, "Your server stopped while it was starting.")
        self.assertEqual(cm.exception.details, "Job 1 ended: OOM")

    async def test_progress_returns_when_start_fails_before_session(self):
        self.bridge.post_error = (400, "bad_request", "nope")
        sp = self.make_spawner()
        task = asyncio.ensure_future(sp.start())
        events = []
        async for ev in sp.progress():
            events.append(ev)
        self.assertEqual(events, [])
        with self.assertRaises(SpawnFailed):
            await task


class OptionsTests(SpawnerTestCase):
    async def test_options_form_lists_profiles_escaped(self):
        self.bridge.profiles = [
            {"name": "default", "displayName": "Default <b>", "description": "1 CPU & \"1 GB\""},
            {"name": "gpu", "displayName": "<script>alert(1)</script>", "description": "<img src=x onerror=alert(1)>"},
            {"name": "bad name!", "displayName": "x", "description": ""},
        ]
        sp = self.make_spawner(default_profile="gpu")
        form = await sp.get_options_form()
        self.assertIn('<input type="radio" name="profile" value="default">', form)
        self.assertIn('<input type="radio" name="profile" value="gpu" checked>', form)
        self.assertNotIn("<script>alert", form)
        self.assertNotIn("<img", form)
        self.assertNotIn("<b>", form)
        self.assertIn("&lt;script&gt;", form)
        self.assertIn("1 CPU &amp; &quot;1 GB&quot;", form)
        self.assertNotIn("bad name!", form)

    async def test_options_form_single_profile_is_empty(self):
        self.bridge.profiles = self.bridge.profiles[:1]
        sp = self.make_spawner()
        self.assertEqual(await sp.get_options_form(), "")

    async def test_options_form_bridge_down_says_so_and_keeps_the_form(self):
        sp = self.make_spawner(bridge_url=f"http://127.0.0.1:{free_port()}", request_timeout=2)
        with self.assertLogs(sp.log, level="WARNING"):
            form = await sp.get_options_form()
        self.assertIn("The choices of resources could not be loaded: the cluster service does not answer", form)
        self.assertIn("press Start for the default choice", form)
        self.assertNotIn("HPC bridge", form)
        self.assertIn('name="tz"', form)  # still a form: JupyterHub shows the page, not a silent start

    def test_options_from_form(self):
        sp = HpcBridgeSpawner(user=types.SimpleNamespace(name="alice"), hub=Hub())
        self.assertEqual(sp.run_options_from_form({"profile": ["gpu"]}), {"profile": "gpu"})
        self.assertEqual(sp.run_options_from_form({"profile": ["a.b_c-1"]}), {"profile": "a.b_c-1"})
        self.assertEqual(sp.run_options_from_form({}), {})
        for bad in ["../x", "a b", "x" * 65, "<b>", "p;rm", "gpu\nx"]:
            with self.assertRaises(ValueError):
                sp.run_options_from_form({"profile": [bad]})


class StateTests(unittest.TestCase):
    def make(self):
        return HpcBridgeSpawner(user=types.SimpleNamespace(name="alice"), hub=Hub())

    def test_round_trip(self):
        sp = self.make()
        sp.session_id = "s-" + "d" * 26
        sp.idempotency_key = "hbs-key"
        state = sp.get_state()
        self.assertEqual(state, {"session_id": "s-" + "d" * 26, "idempotency_key": "hbs-key"})
        json.dumps(state)
        sp2 = self.make()
        sp2.load_state(state)
        self.assertEqual(sp2.session_id, "s-" + "d" * 26)
        self.assertEqual(sp2.idempotency_key, "hbs-key")
        self.assertEqual(sp2.get_state(), state)

    def test_empty_state(self):
        sp = self.make()
        sp.load_state({})
        self.assertEqual(sp.get_state(), {})

    def test_clear_state(self):
        sp = self.make()
        sp.load_state({"session_id": "s-x", "idempotency_key": "k"})
        sp.clear_state()
        self.assertEqual(sp.session_id, "")
        # kept so that an interrupted start is resumed, see HpcBridgeSpawner.idempotency_key
        self.assertEqual(sp.get_state(), {"idempotency_key": "k"})


if __name__ == "__main__":
    unittest.main()


class WebdavFormTests(SpawnerTestCase):
    async def test_webdav_fields_only_when_enabled(self):
        self.assertEqual(self.make_spawner().render_webdav_form(), "")
        html = self.make_spawner(webdav_form=True).render_webdav_form()
        self.assertIn('name="webdav_password"', html)
        self.assertIn('type="password"', html)

    async def test_credentials_go_to_the_bridge_and_leave_user_options(self):
        sp = self.make_spawner(webdav_form=True)
        opts = sp._profile_options_from_form(
            {"webdav_username": ["alice"], "webdav_password": ["s3cret-pw"], "webdav_url": ["https://dav.example.org/alice/"]}
        )
        self.assertEqual(opts["webdav"], {"username": "alice", "password": "s3cret-pw", "url": "https://dav.example.org/alice/"})
        sp.user_options = opts
        await sp.start()
        body = self.posts()[0][3]
        self.assertEqual(body["webdav"]["password"], "s3cret-pw")
        self.assertNotIn("webdav", sp.user_options)  # not persisted in the hub database

    async def test_no_credentials_without_both_fields(self):
        sp = self.make_spawner(webdav_form=True)
        self.assertNotIn("webdav", sp._profile_options_from_form({"webdav_username": ["alice"], "webdav_password": [""]}))
