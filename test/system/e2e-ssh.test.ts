// The end-to-end suite over SSH and the tunnel: a real sshd on loopback is the login node
// (pooled ssh2 transport, host key pinned), and the bridge's own SSH endpoint terminates the
// tunnels: each notebook is reached only through its job's restricted reverse tunnel.
import { defineEndToEnd } from './e2e-suite.js';

defineEndToEnd({ transport: 'ssh', tunnel: true });
