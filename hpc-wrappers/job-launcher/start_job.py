# hpc-wrap's job launcher: `hpc-wrap start-env` for a plain job (no tunnel, software
# environment, overlay or WebDAV mount) in Python's standard library alone, so that the job
# reaches the server's start without starting Node (~40 ms of CPU instead of ~300 ms; issue
# 10, test/bench/startup-cost.ts). startjob renders it into the batch script
# (job-launcher/launcher-script.ts) and keeps `hpc-wrap start-env` as the fallback: this
# program hands the job to it (exec) whenever it is not sure it can do the same - an older
# Python, a job.json it does not know, a job that needs a step only start-env has.
#
# It keeps start-env's contract to the letter (docs/contracts.md): the duplicate-job guard,
# the spool read once and deleted, status.json's phases (environment, starting, listening,
# exited), exit.json, the application log's JSON lines, the port outside the ephemeral
# range, the self-connect check, signals relayed to the server, the exit status in the
# shell's convention (128 + signal). test/unit/hpc-wrappers/job-launcher.test.ts runs both
# on the same jobs and compares what they leave.
#
# Usage (stdin is this program): python3 -E -s -S - --run-dir DIR -- FALLBACK...
# FALLBACK is the `hpc-wrap ... start-env --run-dir DIR` command the job runs without it.
# Written for Python 3.5+ (no f-strings): a cluster's system python3 may be old.
import json
import os
import random
import signal
import socket
import sys
import time

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

    def status(self, phase, host, port, message):
        write_json_atomic(self.status_file, {'phase': phase, 'host': host, 'port': port, 'message': message, 'tunnel': None, 'tunnelLastError': None, 'updatedAt': iso_now()}, SHARED_FILE_MODE)

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
    for step in ('tunnel', 'overlay', 'environment'):
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


def valid_secrets(secrets):
    env = secrets.get('env') if isinstance(secrets, dict) else None
    return isinstance(env, dict) and all(is_str(k) and is_str(v) for k, v in env.items()) and secrets.get('tunnelPrivateKey') is None and secrets.get('webdav') is None


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
    if not valid_secrets(secrets):
        raise ValueError('the secrets file %s is not valid' % paths.secrets_file)  # never its content
    return job, secrets['env']


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
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
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

    def on_signal(self, signum, _frame):
        name = signal.Signals(signum).name
        self.received.append(name)
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

    def run(self):
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
            job, hub_env = consume_spool(paths)
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
        if self.received:
            first = self.received[0]
            return self.fail('received %s before the server started' % first, signal_status(first), first)

        argv = job['command']
        paths.status('starting', self.host, self.port, None)
        say('starting %s on %s:%s' % (argv[0], self.host, self.port))
        self.log.write('info', 'start-env.starting', {'sessionId': job['sessionId'], 'user': job['user'], 'host': self.host, 'port': self.port, 'program': argv[0], 'launcher': 'python'})
        return self.serve(argv, env, cwd, WILDCARD.get(bind, bind))

    def serve(self, argv, env, cwd, probe_host):
        import subprocess  # here: a job that never starts a server does not pay for it

        error = None
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
                    self.paths.status('listening', self.host, self.port, None)
                    self.log.write('info', 'start-env.listening', {'sessionId': self.job['sessionId'], 'host': self.host, 'port': self.port})
                    break
                time.sleep(0.2 if time.time() - started < 30 else 1.0)
            rc = self.child.wait()
            sig = signal.Signals(-rc).name if rc < 0 else None
            code = None if rc < 0 else rc
            status = signal_status(sig) if sig else rc
        how = error or ('the server was killed by %s' % sig if sig else 'the server exited with status %s' % code)
        self.paths.exit_record(code, sig, error)
        self.paths.status('exited', self.host, self.port, how)
        say(how)
        self.log.write('info', 'start-env.exited', {'sessionId': self.job['sessionId'], 'exitCode': code, 'signal': sig})
        return status


class Command(object):
    def __init__(self, args):
        self.run_dir, self.fallback = None, []
        i = 0
        while i < len(args) and args[i] != '--':
            a = args[i]
            if a == '--run-dir' and i + 1 < len(args):
                self.run_dir = args[i + 1]
                i += 1
            i += 1
        self.fallback = args[i + 1:]


def main():
    cmd = Command(sys.argv[1:])
    if not cmd.fallback:
        sys.stderr.write('hpc-wrap launcher: usage: python3 - --run-dir DIR -- FALLBACK...\n')
        return 2
    try:
        if sys.version_info < (3, 5):
            raise Fallback('Python %d.%d is older than 3.5' % sys.version_info[:2])
        if not cmd.run_dir or not os.path.isdir(cmd.run_dir):
            raise Fallback('no run dir')
        return Launcher(os.path.abspath(cmd.run_dir)).run()
    except Fallback:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvp(cmd.fallback[0], cmd.fallback)


if __name__ == '__main__':
    sys.exit(main())
