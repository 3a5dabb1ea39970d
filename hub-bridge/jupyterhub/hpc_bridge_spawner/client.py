"""A small async client of the hpc-bridge HTTP API (``/v1``).

Only depends on tornado (which JupyterHub already depends on).  The wire format is
described in ``docs/contracts.md`` section 6 of the jupyterhub-hpc-bridge project.

Error model
-----------
* :class:`BridgeUnavailable`: the bridge could not be reached, timed out, answered
  with a 5xx or with something that is not JSON.  Always *transient*: callers keep
  waiting / report "still running", never "gone".
* :class:`BridgeNotFound`: a definite 404 from the bridge.
* :class:`BridgeError`: any other definite answer (4xx), carrying the bridge's
  ``error.code`` and ``error.message``.
* :class:`BridgeConfigError`: our own configuration is broken (e.g. the token file
  cannot be read).  Nothing was sent.

The bearer token is never logged and never put in an exception message.
"""

import json
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

__all__ = [
    "BridgeClient",
    "BridgeError",
    "BridgeUnavailable",
    "BridgeNotFound",
    "BridgeConfigError",
]


class BridgeError(Exception):
    """A definite error answer from the bridge (or a local problem, see subclasses)."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class BridgeUnavailable(BridgeError):
    """Transient: connection refused/reset, timeout, 5xx, or a non-JSON answer."""


class BridgeNotFound(BridgeError):
    """The bridge answered 404 (unknown session)."""


class BridgeConfigError(BridgeError):
    """Local misconfiguration (e.g. unreadable token file); no request was made."""


def _error_from_body(status, body):
    code = None
    message = None
    try:
        doc = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        message = err.get("message") if isinstance(err.get("message"), str) else None
    if not message:
        message = f"hpc-bridge answered HTTP {status}"
    return code, message


#: How many requests to the bridge run at once (long polls included); more wait in line.
MAX_BRIDGE_REQUESTS = 100
_CLIENTS = {}


def _bridge_http_client():
    from tornado.ioloop import IOLoop  # noqa: PLC0415

    loop = IOLoop.current()
    client = _CLIENTS.get(id(loop))
    if client is None or client.io_loop is not loop:
        client = AsyncHTTPClient(force_instance=True, max_clients=MAX_BRIDGE_REQUESTS)
        _CLIENTS[id(loop)] = client
    return client


class BridgeClient:
    """Async client for one bridge.

    ``token_getter`` is a callable returning the bearer token (or '' for none); it is
    called for every request so that a rotated token file is picked up.
    """

    def __init__(self, base_url, token_getter, request_timeout=10.0, http_client=None):
        self.base_url = (base_url or "").rstrip("/")
        self._token_getter = token_getter
        self.request_timeout = float(request_timeout)
        self._http_client = http_client

    @property
    def http_client(self):
        # Not AsyncHTTPClient(): that per-IOLoop singleton is JupyterHub's own (its proxy
        # calls and its wait for each new server) and runs at most 10 requests at once;
        # ten starting servers polling through it delayed the hub's own requests, so
        # users became ready in batches. The bridge's requests get a client of their own
        # (one per IOLoop, looked up lazily so that it works whatever loop is current).
        return self._http_client or _bridge_http_client()

    async def request(self, method, path, body=None, headers=None, query=None):
        """Send one request, return ``(status, parsed_json)`` for 2xx answers.

        Raises BridgeUnavailable / BridgeNotFound / BridgeError / BridgeConfigError.
        """
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        hdrs = {"Accept": "application/json"}
        token = self._token_getter()  # may raise BridgeConfigError
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if headers:
            hdrs.update(headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        req = HTTPRequest(
            url,
            method=method,
            headers=hdrs,
            body=data,
            request_timeout=self.request_timeout,
            connect_timeout=self.request_timeout,
            follow_redirects=False,
            allow_nonstandard_methods=True,
        )
        try:
            resp = await self.http_client.fetch(req, raise_error=False)
        except Exception as e:  # connection refused, DNS, timeout (599), SSL, ...
            # Never include the request (headers hold the token) in the message.
            detail = str(e)
            if token:
                detail = detail.replace(token, "***")
            raise BridgeUnavailable(
                f"hpc-bridge at {self.base_url} unreachable: {type(e).__name__}: {detail}"
            ) from None

        status = resp.code
        if status == 599 or status >= 500 or status < 100:
            code, message = _error_from_body(status, resp.body)
            raise BridgeUnavailable(message, status=status, code=code)
        if status == 404:
            code, message = _error_from_body(status, resp.body)
            raise BridgeNotFound(message, status=status, code=code or "not_found")
        if status >= 300:
            code, message = _error_from_body(status, resp.body)
            raise BridgeError(message, status=status, code=code)
        try:
            doc = json.loads(resp.body.decode("utf-8")) if resp.body else {}
        except ValueError:
            raise BridgeUnavailable(
                f"hpc-bridge answered HTTP {status} with a body that is not JSON",
                status=status,
            ) from None
        return status, doc

    # ---- endpoints -------------------------------------------------------------

    @staticmethod
    def _sid(session_id):
        return quote(str(session_id), safe="")

    async def health(self):
        _, doc = await self.request("GET", "/healthz")
        return doc

    async def list_profiles(self):
        _, doc = await self.request("GET", "/v1/profiles")
        profiles = doc.get("profiles") if isinstance(doc, dict) else None
        if not isinstance(profiles, list):
            raise BridgeUnavailable("hpc-bridge /v1/profiles answer has no profiles list")
        return [p for p in profiles if isinstance(p, dict)]

    async def create_session(self, body, idempotency_key=None):
        """POST /v1/sessions → ``(status, session)``; status 201 new, 200 replayed."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        status, doc = await self.request("POST", "/v1/sessions", body=body, headers=headers)
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise BridgeUnavailable("hpc-bridge answered POST /v1/sessions without a session id")
        return status, doc

    async def get_session(self, session_id, wait_while=None, wait_seconds=None):
        """The session; with ``wait_while`` a long poll: the bridge answers once the session
        is no longer in that state, or after ``wait_seconds`` (an older bridge answers at once)."""
        query = None
        if wait_while:
            query = {"waitWhile": wait_while, "waitSeconds": str(int(wait_seconds or 20))}
        _, doc = await self.request("GET", "/v1/sessions/" + self._sid(session_id), query=query)
        if not isinstance(doc, dict):
            raise BridgeUnavailable("hpc-bridge session answer is not an object")
        return doc

    async def list_events(self, session_id, after=0):
        _, doc = await self.request(
            "GET",
            "/v1/sessions/" + self._sid(session_id) + "/events",
            query={"after": str(int(after))},
        )
        events = doc.get("events") if isinstance(doc, dict) else None
        if not isinstance(events, list):
            raise BridgeUnavailable("hpc-bridge events answer has no events list")
        return [e for e in events if isinstance(e, dict)]

    async def delete_session(self, session_id):
        _, doc = await self.request("DELETE", "/v1/sessions/" + self._sid(session_id))
        return doc
