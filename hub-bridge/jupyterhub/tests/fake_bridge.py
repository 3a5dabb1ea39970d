"""A fake hpc-bridge for the spawner's unit tests: a test double of OUR OWN API
(docs/contracts.md, section 6) with canned sessions whose state advances one step per GET,
served by tornado on 127.0.0.1:0, and the base test case that starts it."""

import asyncio
import json
import os
import socket
import sys
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package dir, so no install is needed

import tornado.web  # noqa: E402
from tornado.httpserver import HTTPServer  # noqa: E402
from tornado.netutil import bind_sockets  # noqa: E402

from jupyterhub.objects import Hub  # noqa: E402

from hpc_bridge_spawner import HpcBridgeSpawner  # noqa: E402

TOKEN = "test-token-Zx9"
SID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


class FakeBridge:
    """State of the fake bridge, shared by its handlers."""

    def __init__(self):
        self.sessions = {}  # id -> session dict
        self.timelines = {}  # id -> list of dict updates, one applied per GET
        self.events = {}  # id -> list of events
        self.keys = {}  # Idempotency-Key -> session id
        self.requests = []  # (method, path, headers dict, parsed body)
        self.session_queries = []  # the query arguments of each GET /v1/sessions/:id (long polls)
        self.profiles = [
            {"name": "default", "displayName": "Default", "description": "1 CPU", "resources": {}},
            {"name": "big", "displayName": "Big", "description": "8 CPUs", "resources": {}},
        ]
        # what the next created session will do: list of updates per GET
        self.next_timeline = [{"state": "ready", "url": "http://127.0.0.1:43123", "jobState": "running"}]
        self.next_events = []
        self.fail_gets = 0  # answer that many GET /v1/sessions/:id with 503 first
        self.post_error = None  # (status, code, message), answered to every POST
        self.post_errors = []  # (status, code, message) answered to the next POSTs, one each
        self.counter = 0
        self.release = asyncio.Event()  # lets the /hang requests answer

    def new_id(self):
        self.counter += 1
        n = self.counter
        chars = []
        for _ in range(26):
            chars.append(SID_ALPHABET[n % 32])
            n //= 32
        return "s-" + "".join(chars)


class Base(tornado.web.RequestHandler):
    def initialize(self, bridge):
        self.bridge = bridge

    def prepare(self):
        body = None
        if self.request.body:
            body = json.loads(self.request.body)
        self.bridge.requests.append(
            (self.request.method, self.request.path, dict(self.request.headers), body)
        )
        if self.request.headers.get("Authorization") != "Bearer " + TOKEN:
            self.error(401, "unauthorized", "bad token")

    def error(self, status, code, message):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"code": code, "message": message}}))

    def send(self, doc, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))


class ProfilesHandler(Base):
    def get(self):
        self.send({"profiles": self.bridge.profiles})


class SessionsHandler(Base):
    def post(self):
        b = self.bridge
        if b.post_errors:
            status, code, message = b.post_errors.pop(0)
            return self.error(status, code, message)
        if b.post_error:
            status, code, message = b.post_error
            return self.error(status, code, message)
        key = self.request.headers.get("Idempotency-Key")
        if key and key in b.keys:
            return self.send(b.sessions[b.keys[key]], 200)
        body = json.loads(self.request.body)
        sid = b.new_id()
        session = {
            "id": sid,
            "user": body["user"],
            "serverName": body.get("serverName", ""),
            "profile": body.get("profile") or "default",
            "state": "submitting",
            "jobId": None,
            "jobState": None,
            "url": None,
            "message": "",
            "schedulerReachable": True,
            "number": b.counter,
            "node": None,
            "queue": {"position": None, "estimatedStart": None},
            "reason": None,
            "startedAt": None,
            "timeLimitSeconds": None,
            "endsAt": None,
        }
        b.sessions[sid] = session
        b.timelines[sid] = list(b.next_timeline)
        b.events[sid] = [dict(e, sessionId=sid) for e in b.next_events]
        if key:
            b.keys[key] = sid
        self.send(session, 201)


class HangHandler(tornado.web.RequestHandler):
    """Answers only when the test releases it: stands for a slow request of JupyterHub's own."""

    def initialize(self, bridge):
        self.bridge = bridge

    async def get(self):
        await self.bridge.release.wait()
        self.finish("late")


class SessionHandler(Base):
    def get(self, sid):
        b = self.bridge
        b.session_queries.append({k: self.get_query_argument(k) for k in self.request.query_arguments})
        if sid not in b.sessions:
            return self.error(404, "not_found", "no such session")
        if b.fail_gets > 0:
            b.fail_gets -= 1
            return self.error(503, "internal", "bridge restarting")
        if b.timelines[sid]:
            b.sessions[sid].update(b.timelines[sid].pop(0))
        self.send(b.sessions[sid])

    def delete(self, sid):
        b = self.bridge
        if sid not in b.sessions:
            return self.error(404, "not_found", "no such session")
        b.sessions[sid]["state"] = "stopping"
        b.timelines[sid] = [{"state": "stopped", "message": "stopped by the hub"}]
        self.send(b.sessions[sid], 202)


class EventsHandler(Base):
    def get(self, sid):
        b = self.bridge
        if sid not in b.sessions:
            return self.error(404, "not_found", "no such session")
        after = int(self.get_argument("after", "0"))
        self.send({"events": [e for e in b.events[sid] if e["seq"] > after]})


def free_port():
    """A port on which nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SpawnerTestCase(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.bridge = FakeBridge()
        app = tornado.web.Application(
            [
                (r"/v1/profiles", ProfilesHandler, {"bridge": self.bridge}),
                (r"/v1/sessions", SessionsHandler, {"bridge": self.bridge}),
                (r"/v1/sessions/([^/]+)", SessionHandler, {"bridge": self.bridge}),
                (r"/v1/sessions/([^/]+)/events", EventsHandler, {"bridge": self.bridge}),
                (r"/hang", HangHandler, {"bridge": self.bridge}),
            ],
            log_function=lambda handler: None,  # keep the test output quiet
        )
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.server = HTTPServer(app)
        self.server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{self.port}"

    async def asyncTearDown(self):
        self.bridge.release.set()
        self.server.stop()
        await self.server.close_all_connections()

    def make_spawner(self, **kw):
        user = types.SimpleNamespace(name="alice", url="/user/alice/", escaped_name="alice")
        kw.setdefault("bridge_url", self.url)
        kw.setdefault("bridge_token", TOKEN)
        kw.setdefault("status_interval", 0.05)
        kw.setdefault("progress_interval", 0.05)
        kw.setdefault("api_token", "hub-api-token-secret")
        kw.setdefault("start_timeout", 600)
        return HpcBridgeSpawner(user=user, hub=Hub(), **kw)

    def posts(self):
        return [r for r in self.bridge.requests if r[0] == "POST"]
