# hpc-wrap's job launcher, its tunnel part (docs/tunnel.md, "The agent"): for a job with a
# tunnel, OpenSSH's `ssh` holds the restricted reverse tunnel to the bridge's endpoint in
# place of start-env's ssh2 agent (start-env/tunnel-agent.ts), so that such a job, too,
# reaches its server without starting Node (issue 10). The launcher's program is this text
# followed by start_job.py (launcher-script.ts launcherProgram). Same contract as the ssh2
# agent:
#   - up before the server starts; "up" is the endpoint's own word (FORWARD_UP on the status
#     channel, contract/tunnel.ts), written once this connection holds its forward of P;
#   - the endpoint's host key only from the job (known_hosts lines, strict checking): a
#     refused host key or forward before the first success ends the start, nothing is
#     retried and the server never starts;
#   - the hub API reached through a node port this program holds for the job's whole life
#     (relayed to ssh's -L on a Unix socket in a 0700 directory), so no other account can
#     take it over between reconnects;
#   - the server's phase pushed on the status channel (again after every reconnect);
#   - reconnects with capped exponential backoff and jitter; status.json's tunnel state.
# The job's private key is written 0600 into that directory only while ssh logs in (ssh
# reads it then) and is removed once the tunnel is up and when the job ends; it is never in
# an argument or the environment. Python 3.5+, standard library only.
# (base64, hashlib, subprocess, tempfile and threading are imported where used: a job
# without a tunnel does not pay for them)
import json
import os
import random
import re
import socket
import time

STATUS_HOST, STATUS_PORT = 'status.hpc-bridge.invalid', 1  # contract/tunnel.ts STATUS_CHANNEL
FORWARD_UP = b'{"forward":"up"}'
LOOPBACK_BINDS = ('127.0.0.1', 'localhost', '::1')
SSH_DIRS = ('/usr/bin', '/bin', '/usr/local/bin')
HUB_URL_VARIABLES = ('JUPYTERHUB_API_URL', 'JUPYTERHUB_ACTIVITY_URL')


_ssh = []


def find_ssh():
    """OpenSSH's client: the system's first, then PATH's (looked up once)."""
    if not _ssh:
        paths = (os.path.join(d, 'ssh') for d in list(SSH_DIRS) + os.environ.get('PATH', '').split(os.pathsep) if d)
        _ssh.append(next((p for p in paths if os.path.isfile(p) and os.access(p, os.X_OK)), None))
    return _ssh[0]


def tunnel_spec(job):
    """job.json's tunnel when the launcher can hold it with ssh, None without one; raises Fallback."""
    t = job.get('tunnel')
    if t is None:
        return None

    def port(v):
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535

    ok = (
        isinstance(t, dict)
        and isinstance(t.get('host'), str)
        and re.match(r'(?:(?!-)[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:]{2,39})\Z', t['host']) is not None
        and port(t.get('port'))
        and isinstance(t.get('user'), str)
        and re.match(r'[a-z_][a-z0-9_-]{0,31}\Z', t['user']) is not None
        and isinstance(t.get('hostKeys'), list)
        and len(t['hostKeys']) > 0
        and all(isinstance(line, str) and '\n' not in line and '\r' not in line and '\0' not in line for line in t['hostKeys'])
        and port(t.get('remotePort'))
        and (t.get('hubApiPort') is None or port(t['hubApiPort']))
        and isinstance(t.get('keepaliveIntervalSeconds', 5), (int, float))
    )
    if not ok:
        raise Fallback('job.json has a tunnel this launcher does not know')
    if job.get('jupyter', {}).get('bindAddress') not in LOOPBACK_BINDS:
        raise Fallback('a tunnel with a server not on the loopback (start-env says why)')
    if find_ssh() is None:
        raise Fallback('the node has no ssh client for the tunnel')
    return t


def rewrite_hub_url(url, port):
    """tunnel-agent.ts rewriteHubUrl: host and port become 127.0.0.1:port, the rest is kept."""
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(url)
    if not u.scheme or not u.netloc:
        raise ValueError('a hub URL in the server environment (JUPYTERHUB_API_URL / JUPYTERHUB_ACTIVITY_URL) is not a valid URL')
    return urlunsplit((u.scheme, '127.0.0.1:%d' % port, u.path, u.query, u.fragment))


def fingerprint(line):
    """'ssh-ed25519 SHA256:…' of a known_hosts line (ssh-keygen -l's form), or None."""
    import base64
    import hashlib

    words = line.split()
    if words and words[0].startswith('@'):
        return None
    for i in range(len(words) - 1):
        if words[i].startswith(('ssh-', 'ecdsa-', 'sk-')):
            try:
                blob = base64.b64decode(words[i + 1].encode('ascii'), validate=True)
            except (ValueError, UnicodeError):
                return None
            return '%s SHA256:%s' % (words[i], base64.b64encode(hashlib.sha256(blob).digest()).decode('ascii').rstrip('='))
    return None


class TunnelFailed(Exception):
    pass


class SshTunnel(object):
    FIRST_BACKOFF, MAX_BACKOFF = 0.25, 5.0

    def __init__(self, spec, private_key, server_port, on_state, say):
        import threading

        self.spec, self.key, self.server_port = spec, private_key, server_port
        self.on_state, self.say = on_state, say
        self.cond = threading.Condition()
        self.up = self.ever_up = self.stopped = False
        # set by the launcher's signal handler when the job is told to end (a plain flag: no lock there)
        self.ending = False
        self.fatal = self.last_error = self.last_said = None
        self.proc = self.status_sock = self.phase = None
        self.dir = self.api_listener = self.api_port = self.runner = None
        self.delay = self.FIRST_BACKOFF
        self.ssh = find_ssh()

    @property
    def where(self):
        return '%s@%s:%d' % (self.spec['user'], self.spec['host'], self.spec['port'])

    def path(self, name):
        return os.path.join(self.dir, name)

    # --- start and stop -------------------------------------------------------------------

    def start(self):
        """Holds the node end of the hub API forward, then starts the ssh loop."""
        import tempfile

        self.dir = tempfile.mkdtemp(prefix='hpcw-tunnel-')
        # a Unix socket path has ~107 bytes; ssh splits option values at blanks and quotes
        # and expands % and ~ in paths: the job's TMPDIR only when it has none of those
        if len(self.path('status')) > 100 or re.search(r'[\s"\'\\%~]', self.dir):
            os.rmdir(self.dir)
            self.dir = tempfile.mkdtemp(prefix='hpcw-tunnel-', dir='/tmp')
        with open(self.path('known_hosts'), 'w') as f:
            f.write('\n'.join(self.spec['hostKeys']) + '\n')
        if self.spec.get('hubApiPort') is not None:
            self.api_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.api_listener.bind(('127.0.0.1', 0))
            self.api_listener.listen(64)
            self.api_port = self.api_listener.getsockname()[1]
            self.thread(self.serve_api)
        self.say('tunnel: connecting to %s by OpenSSH%s' % (self.where, ' (hub API 127.0.0.1:%d \u2192 node 127.0.0.1:%d)' % (self.spec['hubApiPort'], self.api_port) if self.api_port else ''))
        self.runner = self.thread(self.run)

    def stop(self):
        import subprocess

        with self.cond:
            self.stopped = True
            self.cond.notify_all()
            proc, sock = self.proc, self.status_sock
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.runner is not None:
            self.runner.join(3)  # it stops a login it began meanwhile, and writes no key after this
        for s in (sock, self.api_listener):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept() or recv()
                except OSError:
                    pass
                close_quiet(s)
        if self.dir:
            for name in ('key', 'known_hosts', 'status', 'api'):
                unlink_quiet(self.path(name))
            try:
                os.rmdir(self.dir)
            except OSError:
                pass

    def wait_up(self, timeout, interrupted=lambda: False):
        deadline = time.time() + timeout
        with self.cond:
            while not self.up:
                if interrupted():
                    return
                if self.fatal:
                    raise TunnelFailed(self.fatal)
                if self.stopped:
                    raise TunnelFailed('the tunnel was stopped')
                left = deadline - time.time()
                if left <= 0:
                    raise TunnelFailed('the tunnel to %s did not come up within %d s: %s' % (self.where, round(timeout), self.last_error or 'no answer'))
                self.cond.wait(min(0.25, left))

    def report_phase(self, report):
        """Tells the bridge the server's phase (now, and again after every reconnect)."""
        with self.cond:
            self.phase = report
            sock = self.status_sock
        if sock is not None:
            self.send(sock, report)

    # --- the ssh loop -------------------------------------------------------------------------

    @staticmethod
    def thread(target, *args):
        import threading

        t = threading.Thread(target=target, args=args)
        t.daemon = True
        t.start()
        return t

    def argv(self):
        s = self.spec
        keepalive = max(1, int(round(s.get('keepaliveIntervalSeconds', 5))))
        opts = [
            'BatchMode=yes', 'IdentitiesOnly=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=' + self.path('known_hosts'),
            'GlobalKnownHostsFile=/dev/null', 'CheckHostIP=no', 'UpdateHostKeys=no', 'ExitOnForwardFailure=yes',
            'ServerAliveInterval=%d' % keepalive, 'ServerAliveCountMax=3', 'ConnectTimeout=20', 'StreamLocalBindUnlink=yes',
            'StreamLocalBindMask=0177', 'ControlMaster=no', 'ControlPath=none', 'LogLevel=ERROR',
        ]
        argv = [self.ssh, '-F', '/dev/null', '-N', '-T', '-x', '-a', '-i', self.path('key'), '-p', str(s['port']), '-l', s['user']]
        for o in opts:
            argv += ['-o', o]
        argv += ['-R', '127.0.0.1:%d:127.0.0.1:%d' % (s['remotePort'], self.server_port)]
        argv += ['-L', '%s:%s:%d' % (self.path('status'), STATUS_HOST, STATUS_PORT)]
        if self.api_port:
            argv += ['-L', '%s:127.0.0.1:%d' % (self.path('api'), s['hubApiPort'])]
        return argv + [s['host']]

    def write_key(self):
        unlink_quiet(self.path('key'))
        fd = os.open(self.path('key'), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (self.key.rstrip('\n') + '\n').encode('ascii'))
        finally:
            os.close(fd)

    def run(self):
        import subprocess

        env = dict((k, v) for k, v in os.environ.items() if k != 'SSH_AUTH_SOCK')
        while True:
            with self.cond:
                if self.stopped or self.fatal:
                    return
            self.on_state('connecting', self.last_error)
            for name in ('status', 'api'):
                unlink_quiet(self.path(name))
            try:
                self.write_key()
                proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, close_fds=True)
            except OSError as err:
                with self.cond:
                    self.fatal = 'cannot start %s for the tunnel: %s' % (self.ssh, err.strerror or err)
                    self.cond.notify_all()
                return
            with self.cond:
                self.proc = proc
                if self.stopped:  # stop() came while this login began
                    proc.terminate()
            self.thread(self.watch_status, proc)
            lines = []
            for raw in proc.stderr:
                line = raw.decode('utf-8', 'replace').strip()
                if line and not line.startswith('@@@') and len(lines) < 40:
                    lines.append(line)
            proc.wait()
            unlink_quiet(self.path('key'))
            self.ended(proc.returncode, lines)
            with self.cond:
                if self.stopped or self.fatal or self.ending:
                    return
                d = self.delay * (0.75 + random.random() * 0.5)
                self.delay = min(self.delay * 2, self.MAX_BACKOFF)
                self.cond.wait(d)

    def ended(self, code, lines):
        text = ' '.join(lines) or 'ssh exited with status %s' % code
        with self.cond:
            was_up, self.up = self.up, False
            if self.stopped:
                return
            fatal = None
            if 'Host key verification failed' in text or 'host key is known for' in text or 'IDENTIFICATION HAS CHANGED' in text:
                fatal = self.host_key_refusal(text)
            elif 'Bad configuration option' in text or 'Unsupported option' in text or 'unknown option' in text:
                fatal = "the node's ssh (%s) cannot hold the tunnel as the launcher asks (%s); set job.launcher: node in hpc-wrap.yaml to use start-env's agent" % (self.ssh, text)
            elif 'remote port forwarding failed' in text:
                fatal = 'the bridge refused the forward of its 127.0.0.1:%d to this job (%s)' % (self.spec['remotePort'], text)
            elif 'Permission denied' in text:
                text += " (the bridge did not accept this job's tunnel key: the session ended, or the key expired)"
            msg = fatal or text
            if fatal and not self.ever_up:
                self.fatal = fatal
            self.last_error = msg
            self.cond.notify_all()
        if self.ending:
            self.say('tunnel down: %s (the job is ending)' % msg)
        elif was_up:
            self.say('tunnel down: %s, reconnecting' % msg)
            self.last_said = msg
        elif msg != self.last_said:
            self.say('tunnel: %s (retrying)' % msg if not self.fatal else 'tunnel: %s' % msg)
            self.last_said = msg
        self.on_state('down', msg)

    def host_key_refusal(self, text):
        m = re.search(r'fingerprint for the (\S+) key sent by the remote host is\s*(SHA256:[A-Za-z0-9+/]+)', text)
        presented = 'ssh-%s %s' % (m.group(1).lower(), m.group(2)) if m else 'a key it does not vouch for (%s)' % text
        known = ', '.join(f for f in (fingerprint(line) for line in self.spec['hostKeys']) if f)
        return (
            "REFUSED the hub's SSH host key at %s:%d: it presented %s, but the bridge vouches only for %s. "
            "This may be an attack, or the endpoint's key (tunnel.hostKeyFile) was replaced after this job was submitted: ask the hub administrators."
            % (self.spec['host'], self.spec['port'], presented, known or 'none')
        )

    # --- the status channel: FORWARD_UP in, phases out -------------------------------------

    def watch_status(self, proc):
        """Connects to ssh's -L of the status channel until the endpoint says the forward is up."""
        while proc.poll() is None and not self.stopped:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path('status'))
            except OSError:
                close_quiet(sock)
                time.sleep(0.05)
                continue
            buf = b''
            try:
                while True:
                    data = sock.recv(512)
                    if not data:
                        break
                    buf += data
                    if b'\n' in buf:
                        line, buf = buf.split(b'\n', 1)
                        if line.strip() == FORWARD_UP:
                            self.forward_up(sock)
            except OSError:
                pass
            with self.cond:
                if self.status_sock is sock:
                    self.status_sock = None
            close_quiet(sock)
            time.sleep(0.2)

    def forward_up(self, sock):
        with self.cond:
            if self.stopped:
                return
            self.up = self.ever_up = True
            self.status_sock = sock
            self.last_error = self.last_said = None
            self.delay = self.FIRST_BACKOFF
            phase = self.phase
            self.cond.notify_all()
        unlink_quiet(self.path('key'))  # ssh has logged in; the next login writes it again
        self.on_state('up', None)
        self.say('tunnel up: hub 127.0.0.1:%d \u2192 node 127.0.0.1:%d' % (self.spec['remotePort'], self.server_port))
        if phase is not None:
            self.send(sock, phase)

    def send(self, sock, report):
        try:
            sock.sendall((json.dumps(report, separators=(',', ':')) + '\n').encode('utf-8'))
        except OSError:
            pass

    # --- the node end of the hub API forward ---------------------------------------------------

    def serve_api(self):
        while True:
            try:
                conn, _ = self.api_listener.accept()
            except OSError:
                return
            self.thread(self.relay_api, conn)

    def relay_api(self, conn, wait_s=10.0):
        """One connection of the server to the hub API: into ssh's -L (waiting up to wait_s for the tunnel)."""
        deadline = time.time() + wait_s
        up = None
        while up is None and not self.stopped:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path('api'))
                up = s
            except OSError:
                close_quiet(s)
                if time.time() >= deadline:
                    break
                time.sleep(0.1)
        if up is None:
            close_quiet(conn)
            return
        back = self.thread(pump, up, conn)
        pump(conn, up)
        back.join()
        close_quiet(up)
        close_quiet(conn)


def pump(src, dst):
    """Copies src to dst until src ends, then half-closes dst; on an error, ends both ways."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def close_quiet(s):
    try:
        s.close()
    except OSError:
        pass
