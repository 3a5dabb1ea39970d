# hpc-wrap's job launcher: `hpc-wrap start-env` for a plain job (no software environment,
# overlay or WebDAV mount; a tunnel is held by OpenSSH's ssh, ssh_tunnel.py) in Python's
# standard library alone, so that the job reaches the server's start without starting Node
# (~70 ms of CPU instead of ~300 ms; issue 10, test/bench/startup-cost.ts). startjob
# renders it into the batch script (job-launcher/launcher-script.ts) and keeps `hpc-wrap
# start-env` as the fallback: this program hands the job to it (exec) whenever it is not
# sure it can do the same - an older Python, a job.json it does not know, a job that needs
# a step only start-env has, a tunnel on a node without ssh.
#
# It keeps start-env's contract to the letter (docs/contracts.md): the duplicate-job guard,
# the spool read once and deleted, status.json's phases (environment, starting, listening,
# exited), exit.json, the application log's JSON lines, the port outside the ephemeral
# range, the self-connect check, signals relayed to the server, the exit status in the
# shell's convention (128 + signal). test/unit/hpc-wrappers/start-env.test.ts runs the
# contract's cases against both; batchspawner-singleuser.test.ts and
# hub-bridge/batchspawner-contract.test.ts run the port report both ways.
#
# It is called two ways (Command below): by a job script startjob wrote, and by the head of
# the hpc-wrap file for `hpc-wrap batchspawner-singleuser` (then with the port report to
# stock batchspawner, as port-report-step.ts sends it).
# Written for Python 3.5+ (no f-strings): a cluster's system python3 may be old.
import json
import os
import random
import signal
import socket
import struct
import sys
import time

TUNNEL_START_TIMEOUT_S = 60
ENDING = ('SIGTERM', 'SIGINT', 'SIGHUP')
RELAYED = ('SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2')
SHARED_FILE_MODE = 0o640
LEVELS = {'error': 0, 'warn': 1, 'info': 2, 'debug': 3}
MAX_FIELD = 2000


def iso_now():
    t = time.time()
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % (int(t * 1000) % 1000)


def say(line):
    sys.stderr.write('[hpc-wrap start-env %s] %s\n' % (iso_now(), line))
    sys.stderr.flush()


class Fallback(Exception):
    """The job goes to `hpc-wrap start-env` (nothing of the run dir was touched yet)."""


class AppLog(object):
    """hpc-wrappers/app-log.ts: one JSON object per line, appended."""

    def __init__(self, path, level, mode=0o600):
        self.path, self.level, self.mode, self.warned = path, level, mode, False

    def write(self, level, event, fields):
        if LEVELS[level] > LEVELS.get(self.level, 2):
            return
        entry = {'time': iso_now(), 'level': level, 'command': 'hpc-wrap start-env', 'event': event, 'pid': os.getpid()}
        for k, v in fields.items():
            if v is not None:
                entry[k] = v[:MAX_FIELD] + '\u2026' if isinstance(v, str) and len(v) > MAX_FIELD else v
        try:
            if self.mode == 0o600:
                parent = os.path.dirname(self.path)
                if not os.path.isdir(parent):
                    os.makedirs(os.path.dirname(parent), 0o711, exist_ok=True)
                    os.makedirs(parent, 0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
            try:
                os.write(fd, (json.dumps(entry, separators=(',', ':'), ensure_ascii=False) + '\n').encode('utf-8'))
            finally:
                os.close(fd)
        except OSError as err:
            if not self.warned:
                self.warned = True
                sys.stderr.write('hpc-wrap: cannot write the application log %s: %s\n' % (self.path, err.strerror or err))


def write_json_atomic(path, value, mode):
    """json-files.ts writeJsonAtomic: a temp file beside it, fsync, rename."""
    tmp = os.path.join(os.path.dirname(path), '.%s.%d.%x.tmp' % (os.path.basename(path), os.getpid(), random.getrandbits(48)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, (json.dumps(value, indent=2, ensure_ascii=False) + '\n').encode('utf-8'))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    try:
        os.rename(tmp, path)
    except OSError:
        unlink_quiet(tmp)
        raise


def unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class RunDir(object):
    """layout.ts sessionPaths, the files this program touches."""

    def __init__(self, run_dir):
        self.dir = run_dir
        self.spool = os.path.join(run_dir, 'spool')
        self.job_file = os.path.join(self.spool, 'job.json')
        self.secrets_file = os.path.join(self.spool, 'secrets.json')
        self.job_script = os.path.join(run_dir, 'job.sh')
        self.job_id_file = os.path.join(run_dir, 'jobid')
        self.status_file = os.path.join(run_dir, 'status.json')
        self.exit_file = os.path.join(run_dir, 'exit.json')
        # <userDir>/sessions/<session id>
        self.user_dir = os.path.dirname(os.path.dirname(run_dir))
        self.last = {'phase': 'environment', 'host': None, 'port': None, 'message': None, 'tunnel': None, 'tunnelLastError': None}
        self.lock = None

    def write_status(self, **changes):
        """status.json: the last status with `changes` (the tunnel's thread writes its state too)."""
        if self.lock is None:
            import threading

            self.lock = threading.Lock()
        with self.lock:
            self.last.update(changes)
            self.last['updatedAt'] = iso_now()
            write_json_atomic(self.status_file, self.last, SHARED_FILE_MODE)

    def status(self, phase, host, port, message):
        self.write_status(phase=phase, host=host, port=port, message=message)

    def tunnel_state(self, state, last_error):
        self.write_status(tunnel=state, tunnelLastError=last_error)

    def exit_record(self, exit_code, sig, error):
        write_json_atomic(self.exit_file, {'exitCode': exit_code, 'signal': sig, 'error': error, 'endedAt': iso_now()}, SHARED_FILE_MODE)


# --- what this program can run (else: Fallback) ---------------------------------------


def is_str(v):
    return isinstance(v, str)


def is_port(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535


def plain_runtime(job):
    """job.json's runtime block when this is a plain job this program runs; raises Fallback."""
    if not isinstance(job, dict) or job.get('version') != 1:
        raise Fallback('job.json is not a version 1 job description')
    for step in ('overlay', 'environment'):
        if job.get(step) is not None:
            raise Fallback('the job has a %s' % step)
    webdav = job.get('webdav')
    if isinstance(webdav, dict) and webdav.get('enabled'):
        raise Fallback('the job mounts WebDAV')
    rt = job.get('runtime')
    if not isinstance(rt, dict) or not isinstance(rt.get('perUser'), bool) or not is_str(rt.get('jobIdVariable')) or not rt.get('jobIdVariable'):
        raise Fallback('job.json has no runtime block')
    if rt.get('logLevel') not in LEVELS or not is_str(rt.get('logFile')) or not rt.get('logFile'):
        raise Fallback('job.json has no runtime block')
    tunnel_spec(job)
    return rt


def valid_job(job):
    """The fields this program reads, typed as jobDescriptionSchema has them."""
    try:
        cmd = job['command']
        jup = job['jupyter']
        rng = jup['portRange']
        return (
            is_str(job['sessionId'])
            and is_str(job['user'])
            and isinstance(cmd, list)
            and len(cmd) > 0
            and all(is_str(w) and w for w in cmd)
            and (job.get('home') is None or is_str(job['home']))
            and is_str(jup['bindAddress'])
            and jup['bindAddress'] != ''
            and is_port(rng['start'])
            and is_port(rng['end'])
            and (job.get('logFile') is None or is_str(job['logFile']))
        )
    except (KeyError, TypeError):
        return False


def valid_secrets(secrets, tunnel):
    env = secrets.get('env') if isinstance(secrets, dict) else None
    key = secrets.get('tunnelPrivateKey') if isinstance(secrets, dict) else None
    key_ok = is_str(key) and key.startswith('-----BEGIN ') if tunnel else key is None
    return isinstance(env, dict) and all(is_str(k) and is_str(v) for k, v in env.items()) and key_ok and secrets.get('webdav') is None


# --- the steps of start-env a plain job has ----------------------------------------------


def base_id(job_id):
    return job_id.replace(';', '.').split('.')[0].strip()


def recorded_other_job(paths, variable, wait_s=15.0):
    """duplicate-guard.ts: the session's recorded job when it is not this one, else None."""
    mine = os.environ.get(variable) or None
    if mine is None:
        return None
    until = time.time() + wait_s
    while True:
        try:
            with open(paths.job_id_file) as f:
                rec = f.read().strip() or None
        except OSError:
            rec = None
        if rec is not None or time.time() >= until:
            break
        time.sleep(0.2)
    if rec is None:
        return None
    return None if base_id(rec) == base_id(mine) else rec


def read_once(path, what):
    try:
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        finally:
            unlink_quiet(path)
    except OSError as err:
        if err.errno == 2:
            raise ValueError('%s %s is missing: the spool was already consumed (a requeued or restarted job cannot start again; start a new session) or never written' % (what, path))
        raise ValueError('cannot read %s %s: %s' % (what, path, err.strerror or err))
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError('%s %s is not valid JSON' % (what, path))


def consume_spool(paths):
    """spool.ts: job.json and secrets.json read once and deleted with the job script."""
    try:
        secrets = read_once(paths.secrets_file, 'the secrets file')
        job = read_once(paths.job_file, 'the job description')
    finally:
        for p in (paths.secrets_file, paths.job_file, paths.job_script):
            unlink_quiet(p)
        remove_tree(paths.spool)
    if not isinstance(job, dict) or not valid_job(job):
        raise ValueError('the job description %s is not valid' % paths.job_file)
    if not valid_secrets(secrets, job.get('tunnel') is not None):
        raise ValueError('the secrets file %s is not valid' % paths.secrets_file)  # never its content
    return job, secrets['env'], secrets.get('tunnelPrivateKey')


def remove_tree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        unlink_quiet(os.path.join(path, n))
    try:
        os.rmdir(path)
    except OSError:
        pass


def ephemeral_ports(path='/proc/sys/net/ipv4/ip_local_port_range'):
    try:
        with open(path) as f:
            lo, hi = (int(x) for x in f.read().split())
        return (lo, hi) if lo <= hi else None
    except (OSError, ValueError):
        return None


def outside(rng, skip):
    parts = []
    if rng[0] < skip[0]:
        parts.append((rng[0], min(rng[1], skip[0] - 1)))
    if rng[1] > skip[1]:
        parts.append((max(rng[0], skip[1] + 1), rng[1]))
    return parts


def family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def can_bind(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Node's listen
        s.bind((host, port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_free_port(host, rng, tries=64):
    """port-picker.ts: random ports outside the kernel's ephemeral range first."""
    seen = set()
    eph = ephemeral_ports()
    preferred = outside(rng, eph) if eph else []
    for pool in ([preferred, [rng]] if preferred else [[rng]]):
        size = sum(b - a + 1 for a, b in pool)
        for _ in range(tries):
            k = random.randrange(size)
            for a, b in pool:
                if k <= b - a:
                    port = a + k
                    break
                k -= b - a + 1
            if port in seen:
                continue
            seen.add(port)
            if can_bind(host, port):
                return port
    raise ValueError('no free port on %s in %d-%d after %d tries (jupyter.portRange in hpc-wrap.yaml)' % (host, rng[0], rng[1], len(seen)))


WILDCARD = {'0.0.0.0': '127.0.0.1', '::': '::1'}


def advertised_host(bind):
    return socket.gethostname() if bind in WILDCARD else bind


def service_url(bind, port, prefix):
    p = prefix if prefix and prefix.startswith('/') else '/'
    if not p.endswith('/'):
        p += '/'
    h = '[%s]' % bind if ':' in bind and not bind.startswith('[') else bind
    return 'http://%s:%d%s' % (h, port, p)


def can_connect(host, port, timeout=1.0):
    """server-process.ts canConnect, with self-connect.ts's check."""
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        if s.getsockname()[:2] == s.getpeername()[:2]:
            # connected to itself: let go with a reset, no TIME_WAIT holding the server's port
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            return False
        return True
    except OSError:
        return False
    finally:
        s.close()


def signal_status(name):
    return 128 + int(getattr(signal, name))


class Launcher(object):
    def __init__(self, run_dir):
        self.paths = RunDir(run_dir)
        self.received = []
        self.child = None
        self.log = None
        self.job = None
        self.host = None
        self.port = None
        self.tunnel = None

    def on_signal(self, signum, _frame):
        name = signal.Signals(signum).name
        self.received.append(name)
        if self.tunnel is not None and name in ENDING:
            self.tunnel.ending = True  # the job is ending: a lost connection is not re-made
        if self.child is not None and self.child.returncode is None:
            try:
                self.child.send_signal(signum)
            except OSError:
                pass

    def fail(self, message, status, sig=None):
        say(message)
        self.paths.exit_record(None if sig else status, sig, message)
        self.paths.status('exited', self.host, self.port, message)
        self.log.write('error', 'start-env.failed', {'sessionId': self.job['sessionId'] if self.job else None, 'user': self.job['user'] if self.job else None, 'message': message})
        return status

    def run(self, command):
        paths = self.paths
        try:
            with open(paths.job_file, encoding='utf-8') as f:
                rt = plain_runtime(json.load(f))
        except (OSError, ValueError) as err:
            raise Fallback('job.json cannot be read here (%s)' % err)
        if rt['perUser']:
            self.log = AppLog(os.path.join(paths.user_dir, 'hpc-wrap.log'), rt['logLevel'], SHARED_FILE_MODE)
        else:
            self.log = AppLog(rt['logFile'], rt['logLevel'])
        other = recorded_other_job(paths, rt['jobIdVariable'])
        if other is not None:
            mine = os.environ.get(rt['jobIdVariable'])
            say("this job (%s) is a duplicate: the session's job is %s; leaving without touching the session" % (mine, other))
            self.log.write('warn', 'start-env.duplicate', {'runDir': paths.dir, 'job': mine, 'recorded': other})
            return 0

        for name in RELAYED:
            signal.signal(getattr(signal, name), self.on_signal)
        try:
            job, hub_env, tunnel_key = consume_spool(paths)
        except ValueError as err:
            paths.status('exited', None, None, str(err))
            paths.exit_record(1, None, str(err))
            sys.stderr.write('hpc-wrap: %s\n' % err)
            return 1
        self.job = job
        if job.get('logFile'):
            self.log = AppLog(job['logFile'], rt['logLevel'], SHARED_FILE_MODE if rt['perUser'] else 0o600)

        paths.status('environment', None, None, None)
        say('preparing the environment for session %s' % job['sessionId'])
        try:
            env = dict((k, v) for k, v in os.environ.items() if not k.startswith('HPC_WRAP_'))
            env.update(hub_env)
            cwd = os.getcwd()
            if job.get('home'):
                os.makedirs(job['home'], 0o700, exist_ok=True)
                env['HOME'] = cwd = job['home']
            bind = job['jupyter']['bindAddress']
            rng = job['jupyter']['portRange']
            self.port = pick_free_port(bind, (rng['start'], rng['end']))
            self.host = advertised_host(bind)
            env['JUPYTERHUB_SERVICE_URL'] = service_url(bind, self.port, env.get('JUPYTERHUB_SERVICE_PREFIX'))
        except (OSError, ValueError) as err:
            return self.fail(str(err), 1)
        try:
            if job.get('tunnel') is not None:
                failed = self.open_tunnel(job['tunnel'], tunnel_key, env)
                if failed is not None:
                    return failed
                if self.received:
                    first = self.received[0]
                    return self.fail('received %s while the environment step "tunnel" was preparing; the server was not started' % first, signal_status(first), first)
            try:
                # batchspawner-singleuser: checked before the server starts, sent once it listens
                report = PortReport(env, self.port) if command.report_port else None
            except ValueError as err:
                return self.fail(str(err), 1)
            if self.received:
                first = self.received[0]
                return self.fail('received %s before the server started' % first, signal_status(first), first)

            argv = command.server or job['command']
            paths.status('starting', self.host, self.port, None)
            say('starting %s on %s:%s (by the Python launcher)' % (argv[0], self.host, self.port))
            self.log.write('info', 'start-env.starting', {'sessionId': job['sessionId'], 'user': job['user'], 'host': self.host, 'port': self.port, 'program': argv[0], 'launcher': 'python'})
            return self.serve(argv, env, cwd, WILDCARD.get(bind, bind), report)
        finally:
            if self.tunnel is not None:
                self.tunnel.stop()
                paths.tunnel_state('down', None)

    def open_tunnel(self, spec, key, env):
        """tunnel-agent.ts's step: the tunnel up before the server starts; the hub URLs through it. A failure's exit status, else None."""
        self.tunnel = SshTunnel(spec, key, self.port, self.paths.tunnel_state, say)
        try:
            self.tunnel.start()
            self.tunnel.wait_up(TUNNEL_START_TIMEOUT_S, lambda: bool(self.received))
            if self.tunnel.api_port is not None:
                for name in HUB_URL_VARIABLES:
                    if env.get(name):
                        env[name] = rewrite_hub_url(env[name], self.tunnel.api_port)
        except (OSError, ValueError, TunnelFailed) as err:
            message = str(err)
            self.tunnel.stop()
            self.tunnel = None
            self.paths.tunnel_state('down', message)
            return self.fail(message, 1)
        self.log.write('info', 'start-env.tunnel-up', {'sessionId': self.job['sessionId'], 'hub': self.tunnel.where, 'remotePort': spec['remotePort'], 'apiPort': self.tunnel.api_port, 'agent': 'openssh'})
        return None

    def serve(self, argv, env, cwd, probe_host, report):
        import subprocess  # here: a job that never starts a server does not pay for it

        error, listening_failure = None, None
        try:
            self.child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        except OSError as err:
            error = 'cannot start %s: %s' % (argv[0], err.strerror or err)
            code, sig, status = 127, None, 127
        if self.child is not None:
            for name in self.received:  # a signal between the check and the start
                self.child.send_signal(getattr(signal, name))
            started = time.time()
            while self.child.poll() is None:
                if can_connect(probe_host, self.port):
                    if self.child.poll() is not None:
                        break
                    say('the server is listening on %s:%s' % (self.host, self.port))
                    # "listening" (what the bridge makes "ready" of) only once the port report is
                    # done: a server whose report failed is stopped and never shown ready
                    try:
                        if report is not None:
                            report.send(self)
                        self.paths.status('listening', self.host, self.port, None)
                        if self.tunnel is not None:
                            self.tunnel.report_phase({'phase': 'listening', 'port': self.port})
                        self.log.write('info', 'start-env.listening', {'sessionId': self.job['sessionId'], 'host': self.host, 'port': self.port})
                    except ReportFailed as err:
                        listening_failure = str(err)
                        self.child.send_signal(signal.SIGTERM)
                    break
                time.sleep(0.2 if time.time() - started < 30 else 1.0)
            rc = self.child.wait()
            sig = signal.Signals(-rc).name if rc < 0 else None
            code = None if rc < 0 else rc
            status = signal_status(sig) if sig else rc
        if listening_failure is not None:
            return self.fail(listening_failure, 1)
        how = error or ('the server was killed by %s' % sig if sig else 'the server exited with status %s' % code)
        self.paths.exit_record(code, sig, error)
        self.paths.status('exited', self.host, self.port, how)
        say(how)
        self.log.write('info', 'start-env.exited', {'sessionId': self.job['sessionId'], 'exitCode': code, 'signal': sig})
        return status


class ReportFailed(Exception):
    pass


class PortReport(object):
    """port-report-step.ts: POST {"port": P} to <JUPYTERHUB_API_URL>/batchspawner once the server listens."""

    DEADLINE, FIRST_BACKOFF, MAX_BACKOFF, ATTEMPT = 30.0, 0.25, 4.0, 10.0

    def __init__(self, env, port):
        from urllib.parse import urlsplit, urlunsplit

        api, token = env.get('JUPYTERHUB_API_URL'), env.get('JUPYTERHUB_API_TOKEN')
        if not api:
            raise ValueError('JUPYTERHUB_API_URL is not set: the hub passes it in the spawner environment; it is where the port goes')
        if not token:
            raise ValueError('JUPYTERHUB_API_TOKEN is not set: the hub passes it in the spawner environment; the port report needs it')
        u = urlsplit(api)
        if u.scheme not in ('http', 'https') or not u.hostname:
            raise ValueError('JUPYTERHUB_API_URL must be an http(s) URL' if u.scheme else 'JUPYTERHUB_API_URL is not a valid URL')
        self.url = urlunsplit((u.scheme, u.netloc, u.path.rstrip('/') + '/batchspawner', u.query, ''))
        self.split = urlsplit(self.url)
        self.token, self.port, self.env = token, port, env
        self.tls = self.tls_context() if u.scheme == 'https' else None

    def tls_context(self):
        import ssl

        def need(name):
            path = self.env.get(name)
            if path and not os.access(path, os.R_OK):
                raise ValueError('%s=%s cannot be read' % (name, path))
            return path

        ctx = ssl.create_default_context(cafile=need('JUPYTERHUB_SSL_CLIENT_CA'))
        cert, key = self.env.get('JUPYTERHUB_SSL_CERTFILE'), self.env.get('JUPYTERHUB_SSL_KEYFILE')
        if cert and key:
            ctx.load_cert_chain(need('JUPYTERHUB_SSL_CERTFILE'), need('JUPYTERHUB_SSL_KEYFILE'))
        return ctx

    def snippet(self, body):
        if body.lstrip().startswith('<'):
            return ''
        text = ' '.join(body.split()).replace(self.token, '***')
        return text[:200] + '\u2026' if len(text) > 200 else text

    def refusal(self, status, said):
        s = ': ' + said if said else ''
        if status == 404:
            return 'the hub has no batchspawner API at %s (HTTP 404%s); add `import batchspawner` to jupyterhub_config.py, which registers the handler (batchspawner #126)' % (self.url, s)
        if status in (401, 403):
            return "the hub refused this server's API token at %s (HTTP %d%s); the spawn was probably stopped or restarted meanwhile" % (self.url, status, s)
        return 'the hub refused the port report at %s (HTTP %d%s)' % (self.url, status, s)

    def attempt(self, timeout):
        """(ok, final, problem)"""
        import http.client
        import ssl

        u = self.split
        path = u.path + ('?' + u.query if u.query else '')
        if u.scheme == 'https':
            conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=self.tls)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        body = json.dumps({'port': self.port}, separators=(',', ':'))
        try:
            conn.request('POST', path, body=body, headers={'Authorization': 'token ' + self.token, 'Content-Type': 'application/json'})
            res = conn.getresponse()
            status, text = res.status, res.read(4096).decode('utf-8', 'replace')
        except ssl.SSLError as err:
            return False, True, "TLS to the hub at %s failed: %s (JUPYTERHUB_SSL_CLIENT_CA must be the CA of the hub's certificate)" % (self.url, err)
        except (OSError, http.client.HTTPException) as err:
            return False, False, str(err) or type(err).__name__
        finally:
            conn.close()
        if 200 <= status < 300:
            return True, False, status
        said = self.snippet(text)
        if status >= 500 or status == 429:
            return False, False, 'HTTP %d%s' % (status, ': ' + said if said else '')
        return False, True, self.refusal(status, said)

    def send(self, launcher):
        say('reporting port %d to the hub: POST %s' % (self.port, self.url))
        start, backoff, last = time.time(), self.FIRST_BACKOFF, ''
        n = 0
        while True:
            n += 1
            left = self.DEADLINE - (time.time() - start)
            ok, final, problem = self.attempt(max(1.0, min(self.ATTEMPT, left)))
            if ok:
                say('the hub accepted port %d (HTTP %s%s)' % (self.port, problem, ', attempt %d' % n if n > 1 else ''))
                launcher.log.write('info', 'start-env.port-reported', {'sessionId': launcher.job['sessionId'], 'user': launcher.job['user'], 'port': self.port, 'attempts': n, 'tunnel': False})
                return
            if final:
                raise ReportFailed(problem)
            remaining = self.DEADLINE - (time.time() - start)
            if remaining <= 0:
                raise ReportFailed(
                    'could not report port %d to the hub at %s within %d s (%d attempts; last: %s); the hub cannot find this server and gives up at its start_timeout. '
                    'Check that JUPYTERHUB_API_URL (c.JupyterHub.hub_connect_url) is reachable from the compute node.' % (self.port, self.url, round(self.DEADLINE), n, problem)
                )
            if problem != last:
                say('the hub did not take the port yet (%s); retrying for up to %d s' % (problem, -(-remaining // 1)))
            last = problem
            time.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, self.MAX_BACKOFF)


SINGLEUSER = 'batchspawner-singleuser'


class Command(object):
    """How the launcher was called (else: None from parse, and the usage error).

    From a job script startjob wrote (the program on stdin):
        - --run-dir DIR -- FALLBACK...
    From the head of the hpc-wrap file, for `hpc-wrap batchspawner-singleuser ...` in a job
    stock batchspawner submitted through the bridge (scripts/hpc-wrap-bundle.mjs):
        --singleuser HPC_WRAP_FILE batchspawner-singleuser [--run-dir DIR] [--config F] [--] CMD...
    """

    def __init__(self, run_dir, fallback, server=None, report_port=False):
        self.run_dir, self.fallback, self.server, self.report_port = run_dir, fallback, server or [], report_port

    @staticmethod
    def parse(args):
        if args[:1] == ['--singleuser'] and len(args) >= 3 and args[2] == SINGLEUSER:
            return Command.singleuser(args[1], args[3:])
        if '--' not in args:
            return None
        i = args.index('--')
        head, fallback = args[:i], args[i + 1:]
        if len(head) != 2 or head[0] != '--run-dir' or not fallback:
            return None
        return Command(head[1], fallback)

    @staticmethod
    def singleuser(hpc_wrap_file, words):
        """batchspawner-singleuser.ts parseSingleuserArgs; anything else goes to hpc-wrap (Fallback)."""
        fallback = ['node', hpc_wrap_file, SINGLEUSER] + words
        run_dir = os.environ.get('HPC_WRAP_RUN_DIR')
        i = 0
        while i < len(words):
            w = words[i]
            if w == '--':
                i += 1
                break
            if not w.startswith('-'):
                break
            if w in ('--run-dir', '--config') and i + 1 < len(words) and words[i + 1]:
                if w == '--run-dir':
                    run_dir = words[i + 1]
                i += 2
            elif w.startswith('--run-dir=') and len(w) > 10:
                run_dir = w[10:]
                i += 1
            elif w.startswith('--config=') and len(w) > 9:
                i += 1
            else:
                return Command(None, fallback)  # --help, or a usage error: hpc-wrap says it
        return Command(run_dir, fallback, words[i:], True)


def main():
    cmd = Command.parse(sys.argv[1:])
    if cmd is None:
        sys.stderr.write('hpc-wrap launcher: usage: python3 - --run-dir DIR -- FALLBACK...\n')
        return 2
    try:
        if sys.version_info < (3, 5):
            raise Fallback('Python %d.%d is older than 3.5' % sys.version_info[:2])
        if not cmd.run_dir or not os.path.isdir(cmd.run_dir):
            raise Fallback('no run dir')
        if cmd.report_port and not cmd.server:
            raise Fallback('no server command')
        return Launcher(os.path.abspath(cmd.run_dir)).run(cmd)
    except Fallback:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvp(cmd.fallback[0], cmd.fallback)


if __name__ == '__main__':
    sys.exit(main())
