# jupyterhub_config.py -- wiring a JupyterHub (>= 3) to hpc-bridge.
#
# The bridge (`hpc-bridge serve`) does the HPC work: it submits the batch job, follows
# it through the queue, connects the compute node back to the hub side and reports one
# "session" per server.  JupyterHub only needs the thin spawner from
# hub-bridge/jupyterhub/ (Python package `jupyterhub-hpc-bridge-spawner`):
#
#     /usr/bin/python3 -m pip install --no-deps /path/to/jupyterhub-hpc-bridge/hub-bridge/jupyterhub
#
# (it depends only on jupyterhub; no batchspawner, no sudo, no scheduler commands on
# the hub host).

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

# ---------------------------------------------------------------------------------
# The spawner
# ---------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "hpc_bridge_spawner.HpcBridgeSpawner"
# (the entry-point name "hpc-bridge" works too: c.JupyterHub.spawner_class = "hpc-bridge")

# Where the bridge's HTTP API listens.  Keep it on loopback (or a private network):
# the API starts jobs as any user.
c.HpcBridgeSpawner.bridge_url = "http://127.0.0.1:8099"

# The bridge's bearer token, in a file readable only by the hub's user (0600).  It is
# re-read at every request, so rotating the token needs no hub restart.
# (`c.HpcBridgeSpawner.bridge_token = "..."` also works, but the file wins and config
# files tend to be readable by more people.)
c.HpcBridgeSpawner.bridge_token_file = "/etc/jupyterhub/hpc-bridge.token"

# Profile used when the user does not choose one ('' = the bridge's default profile).
# With more than one profile configured in the bridge, users get a drop-down on the
# spawn page (rendered from GET /v1/profiles); with one profile, no form is shown.
# c.HpcBridgeSpawner.default_profile = ""

# A profile the bridge marks unavailable (its partition does not exist or is down, see
# profileCheck in hub-bridge.yaml) is shown greyed out with the reason ("disable"), or
# left out of the form ("hide").
# c.HpcBridgeSpawner.unavailable_profiles = "disable"
# Show the form even with a single profile (students see what they get, and progress
# times are in their browser's time zone; without a form they are in UTC).
# c.HpcBridgeSpawner.always_show_form = False

# Seconds between status checks while a server starts: a failed job (bad account,
# job died, ...) is reported to the student within this delay, with the scheduler's
# reason and the tail of the job output.
# c.HpcBridgeSpawner.status_interval = 0.5

# Timeout of one HTTP request to the bridge.
# c.HpcBridgeSpawner.request_timeout = 10

# Environment passed to the job.  The spawner's default passes only what JupyterHub
# itself sets (API token, URLs, ...) plus JUPYTERHUB_SINGLEUSER_APP: the hub's PATH,
# PYTHONPATH or LANG describe the hub host, not a compute node, and the job gets its
# environment on the HPC side.  Add names here to pass more.
# c.HpcBridgeSpawner.env_keep = ["JUPYTERHUB_SINGLEUSER_APP", "LANG"]

# The command the job runs (the bridge/hpc-wrap wraps it; it must exist on the nodes).
# c.Spawner.cmd = ["jupyterhub-singleuser"]
# c.Spawner.args = []

# ---------------------------------------------------------------------------------
# Timeouts: HPC jobs are slow to start
# ---------------------------------------------------------------------------------
# start_timeout covers everything until the bridge says the server is ready: the
# submission, the WAIT IN THE SCHEDULER QUEUE (minutes on a busy cluster), the job
# start-up and the connection back to the hub.  JupyterHub's default of 60 s would
# cancel most queued jobs.  A job that FAILS is reported at once (not at this
# timeout).  The spawner gives up a few seconds before it (start_timeout_margin),
# withdraws the job and tells the student why; the progress page says from the start
# when that will be.
c.Spawner.start_timeout = 600

# After start() returned the URL, how long the hub waits for the server to answer
# HTTP.  The bridge only reports "ready" once the server is reachable, so this is a
# safety net; keep it generous for slow shared filesystems.
c.Spawner.http_timeout = 120

# How often the hub asks whether each server is still alive (one GET to the bridge
# per server; the bridge asks the scheduler once for all jobs, so this stays cheap).
# A bridge that is down or a scheduler that cannot be reached never makes the hub
# think a server is gone: only the bridge's definite "stopped"/"failed" does.
c.Spawner.poll_interval = 30

# ---------------------------------------------------------------------------------
# The students' sessions page and the admin page (the bridge's own JupyterHub service)
# ---------------------------------------------------------------------------------
# With hubService.enabled in hub-bridge.yaml the bridge serves a small page per student
# (their sessions; leave the queue = cancel a queued start), logged in through the hub.
# JupyterHub before 5.1 refuses to stop a server whose start is pending ("pending spawn,
# please wait"), so the progress page links there to let students leave the queue.
# The api_token is the file named by hubService.apiTokenFile: the bridge creates it at its
# first start (start the bridge first), readable only by its owner (the hub must run as
# that user, as for the bridge token, or you copy the token into this file yourself).
c.JupyterHub.services = [
    {
        "name": "hpc-bridge",                    # = hubService.name
        "url": "http://127.0.0.1:8098",          # = hubService.listen
        "api_token": open("/etc/hpc-bridge/hub-service-token").read().strip(),
        "oauth_no_confirm": True,                # part of the hub: no "authorize" prompt
        # logins to the service carry the admin page's scope for those who hold it
        "oauth_client_allowed_scopes": ["custom:hpc-bridge:admin"],
    },
]
# Students may use it (JupyterHub 3 and later: a scope of the default "user" role).
# The admin page (<service>/admin/, docs/admin-page.md) is for JupyterHub admins and
# for holders of this custom scope (= hubService.adminScope), e.g. tutors or HPC staff.
c.JupyterHub.custom_scopes = {
    "custom:hpc-bridge:admin": {"description": "See and stop every notebook session on the cluster (HPC bridge admin page)"},
}
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=hpc-bridge"]},
    {"name": "hpc-bridge-admins", "scopes": ["custom:hpc-bridge:admin"], "users": ["hpc-staff1"], "groups": []},
]
# The progress page links to a queued start's page there ("Leave the queue").
c.HpcBridgeSpawner.bridge_service_url = "/services/hpc-bridge/"   # with c.JupyterHub.base_url in front, if set
# How often the queue-wait message refreshes (time waited, position, the estimate).
# c.HpcBridgeSpawner.queue_refresh_interval = 10

# ---------------------------------------------------------------------------------
# Networking
# ---------------------------------------------------------------------------------
# The single-user server runs on a compute node and must reach the hub's API
# (JUPYTERHUB_API_URL, for authentication and activity reports).  By default that URL
# is built from c.JupyterHub.hub_ip/hub_port, which is 127.0.0.1 -- unreachable from a
# compute node.  Either let the hub listen on an address the nodes can reach, or set
# the URL the nodes should use (a hostname of the hub host on the cluster network, or
# the address of a tunnel the bridge provides):
# c.JupyterHub.hub_ip = "0.0.0.0"
# c.JupyterHub.hub_connect_url = "http://hub.cluster.example.org:8081"
#
# The other direction (hub -> notebook) is the bridge's business: the URL it reports
# (e.g. http://127.0.0.1:43123, a tunnel end on the hub host) is where the hub and
# its proxy send the user's traffic.

# ---------------------------------------------------------------------------------
# Everything else is ordinary JupyterHub configuration, e.g.:
# ---------------------------------------------------------------------------------
# c.JupyterHub.bind_url = "https://jupyter.example.org/"
# c.JupyterHub.authenticator_class = "..."
# Named servers work (each is its own bridge session):
# c.JupyterHub.allow_named_servers = True
