# jupyterhub_config.py -- STOCK batchspawner (SlurmSpawner) in front of hpc-bridge.
#
# For sites that keep batchspawner (its spawn form, templates, wrapspawner/ProfilesSpawner
# setups) but want the bridge underneath.  batchspawner stays unmodified (1.3.0 or main);
# only its commands change: instead of running sbatch/squeue/scancel under sudo, they talk
# to the bridge (`hpc-bridge serve`, see examples/jupyterhub_config.py for the bridge's
# own thin spawner, the simpler choice for a new installation).
#
# What stock batchspawner gains:
#   * ONE scheduler query per interval for all users: batch_query_cmd asks the bridge
#     over HTTP, which answers from its database; the bridge asks Slurm once for every job
#     (no `sudo squeue` per user every poll_interval -- batchspawner #292).
#   * UNKNOWN instead of "gone" on outages: when the bridge or slurmctld cannot answer,
#     the query prints the line SlurmSpawner's default state_unknown_re reads as UNKNOWN,
#     so poll() keeps the server (#171, #315).  Only a definite end is "gone".
#   * No sudo and no scheduler commands on the hub host (exec_prefix = "").
#   * The port callback is checked and retried (connection errors, 5xx) for up to 30 s
#     (batchspawner-singleuser posts once and ignores the answer).  A report that never
#     arrives fails the job with the reason in its output and in the bridge's session,
#     instead of a server the hub never hears of.  Only {"port": P} is sent (the hub's
#     handler would set any spawner attribute it is sent).
#   * The tunnel (hub-bridge.yaml `tunnel`, docs/tunnel.md): compute nodes that cannot
#     reach the hub, and a hub that cannot reach the nodes, work unchanged (#63, #231):
#     the job's agent carries the notebook to 127.0.0.1:P on the hub host and the hub
#     API to the node; the query then says `RUNNING 127.0.0.1` and the port report
#     names P.  Without a tunnel it says `RUNNING <node>` and reports the node's port.
#   * The API token never appears in argv: it travels from the hub to the job on stdin
#     and in a 0600 spool file that hpc-wrap deletes when the job starts.
#
# Requires: batchspawner >= 1.3.0 (1.2.0 never posts the port on JupyterHub >= 3,
# #277), JupyterHub >= 2 (the port goes through JUPYTERHUB_SERVICE_URL), curl and Node
# on the hub host, Node on the cluster.

# Registers batchspawner's API handler (POST /hub/api/batchspawner, which receives the
# port): importing the module appends it to JupyterHub's default handler list.  A class
# named only as a string is imported when JupyterHub first needs it, which can be after
# the handler list was built -- always so behind wrapspawner/ProfilesSpawner, which
# imports batchspawner at the first spawn.  The port report then gets a 404 and the
# spawn hangs until start_timeout (batchspawner #126, #129; hpc-wrap fails the job at
# once with a message naming this line).  Importing it here makes that order moot.
import batchspawner  # noqa: F401

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"

# ---------------------------------------------------------------------------------
# The four commands.  SlurmSpawner's regexes (state_pending_re, state_running_re,
# state_unknown_re, state_exechost_re) stay at their defaults: the bridge's answers are
# written for them.
# ---------------------------------------------------------------------------------

# batchspawner puts exec_prefix ("sudo -E -u {username}") before submit/query/cancel.
# The bridge runs the job under the identity hpc-wrap.yaml configures, so no sudo here.
c.SlurmSpawner.exec_prefix = ""

# Submit: batchspawner writes the rendered batch script to stdin and runs this with the
# spawner's environment (get_env(): the API token, URLs, user) as the WHOLE environment.
# hpc-bridge-submit (Python standard library only: tens of milliseconds, no Node start)
# sends both to the bridge (POST /v1/sessions), which submits the script as it is
# (hpc-wrap adds only --job-name, --output and the session marker), waits until the job
# is with the scheduler, and prints the session number the way `sbatch --parsable` prints
# a job id; a refusal is its error, in the words the student reads.  Absolute paths: the
# submit env has no PATH (JupyterHub >= 5.2, see env_keep below).
# --profile NAME records the session under a bridge profile (its wall time sizes the
# tunnel key's lifetime); default: the bridge's default profile.
c.SlurmSpawner.batch_submit_cmd = (
    "/usr/bin/python3 -IS /opt/hpc-bridge/hub-bridge/batchspawner/hpc-bridge-submit"
    " --url http://127.0.0.1:8099 --token-file /etc/hpc-bridge/api-token"
)

# Query: prints what `squeue -h -j ID -o '%T %B'` would ("PENDING", "RUNNING cn-014",
# "RUNNING 127.0.0.1" in tunnel mode, the UNKNOWN line when it cannot tell, nothing for a
# job the bridge does not know).  A bash script: to a bridge on this host (127.0.0.1,
# localhost, [::1]) bash sends the one HTTP request itself, no other process (a few ms of
# CPU, what squeue costs; batchspawner runs it every 0.5 s per starting server); any other
# URL goes through curl.  The token is read from the .header file the bridge writes next
# to its token file (0600), never passed as an argument.
c.SlurmSpawner.batch_query_cmd = (
    "/opt/hpc-bridge/hub-bridge/batchspawner/hpc-bridge-query"
    " http://127.0.0.1:8099 /etc/hpc-bridge/api-token.header {job_id}"
)

# Cancel: the bridge stops the session and cancels the job; an unknown or finished job
# is not an error (like scancel).
c.SlurmSpawner.batch_cancel_cmd = (
    "/opt/hpc-bridge/hub-bridge/batchspawner/hpc-bridge-cancel"
    " http://127.0.0.1:8099 /etc/hpc-bridge/api-token.header {job_id}"
)
# (The hub's account must be able to read /etc/hpc-bridge/api-token and its .header:
# run the hub and the bridge as the same account.)

# Inside the job: batchspawner renders {{cmd}} in the script as
#   <batchspawner_singleuser_cmd> jupyterhub-singleuser <Spawner.args>
# and this replaces its Python batchspawner-singleuser.  hpc-wrap prepares the session
# (environment steps from hpc-wrap.yaml: home, modules, conda, container, WebDAV; the
# tunnel), chooses the port, POSTs {"port": P} to $JUPYTERHUB_API_URL/batchspawner with
# the server's token (through the tunnel if there is one; JUPYTERHUB_SSL_* honoured),
# then runs jupyterhub-singleuser with JUPYTERHUB_SERVICE_URL set to its address.
# Everything after `batchspawner-singleuser` is the server's command line, unchanged.
# Name the hpc-wrap file itself (not `node FILE`): run as a program, its /bin/sh head hands
# a plain job (no tunnel, environment, overlay or WebDAV) to the job launcher in the
# node's python3, so that no Node starts before the server (~70 ms of CPU, not ~300 ms);
# every other job goes to Node as before. Options go after the command name.
c.SlurmSpawner.batchspawner_singleuser_cmd = (
    "/opt/hpc-wrap/current/hpc-wrap.mjs batchspawner-singleuser --config /etc/hpc-wrap/hpc-wrap.yaml"
)

# The default Slurm template has `#SBATCH --export={{keepvars}}`, which would pass only
# the listed variables.  hpc-wrap submits batchspawner's script with `--export=ALL` on the
# sbatch command line (which wins over #SBATCH lines), so the job finds its run dir
# (HPC_WRAP_RUN_DIR) without any keepvars setting.  The spawner's own variables, the API
# token included, do not come through sbatch at all: hpc-wrap hands them to the job
# through the spool (0600, deleted once read).

# The rest of the template works as it is: `--output` is replaced by hpc-wrap's
# (`hpc-wrap logs --job-output`), `{{srun}} {{cmd}}` runs the command above.  As with
# any SlurmSpawner, users must exist on the HUB host: their home ({{homedir}}, --chdir)
# and HOME/SHELL are looked up there.  With the bridge's `fork` scheduler (a test setup
# without Slurm) there is no srun: c.SlurmSpawner.req_srun = "".

# ---------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------
# Everything in the spawner's environment becomes the notebook server's environment
# (it travels to the job through the spool and wins over the node's own variables).
# JupyterHub 5.2 narrowed Spawner.env_keep to ["JUPYTERHUB_SINGLEUSER_APP"], and
# batchspawner inherits that; older JupyterHubs keep PATH, PYTHONPATH, LANG, ... of the
# HUB host, which would replace the compute node's PATH.  Set it explicitly so every
# version behaves the same; the job gets PATH from the node (`--get-user-env=L`, modules,
# conda, the container).  Add a name only if the server should see the hub's value.
c.Spawner.env_keep = ["JUPYTERHUB_SINGLEUSER_APP"]

# Not reachable from a compute node?  In tunnel mode, leave the hub API where it is
# (127.0.0.1:8081, the hubApiUrl of hub-bridge.yaml): the agent rewrites
# JUPYTERHUB_API_URL on the node.  Without the tunnel the nodes need a URL they can reach:
# c.JupyterHub.hub_ip = "0.0.0.0"
# c.JupyterHub.hub_connect_url = "http://hub.cluster.example.org:8081"

# ---------------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------------
# start_timeout bounds start(): the submission, the WAIT IN THE QUEUE, the job's
# environment set-up and the port report.  batchspawner's default is 300 s; queues are
# often longer.  On timeout the hub cancels the job.  A job that fails while queued or
# before its server runs ends its session at once, and the next query makes start()
# raise ("The Jupyter batch job has disappeared ...") well before this.  One that fails
# after the query said RUNNING (e.g. the port report was refused) is noticed only by
# batchspawner main (PR #254, polls while waiting for the port); 1.3.0 waits for the
# port until start_timeout.
c.Spawner.start_timeout = 600

# After the port arrived, how long the hub waits for http://<host>:<port> to answer.
# The port is reported right BEFORE jupyterhub-singleuser starts, so this covers the
# server's own start-up (imports on a shared filesystem, a container image opening).
c.Spawner.http_timeout = 120

# How often the hub polls each server (one curl to the bridge each; cheap).
c.Spawner.poll_interval = 30
