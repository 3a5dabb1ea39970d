// The end-to-end suite over SSH: a real sshd on loopback is the login node; the bridge runs
// hpc-wrap there through its pooled ssh2 transport, host key pinned in known_hosts.
import { defineEndToEnd } from './e2e-suite.js';

defineEndToEnd({ transport: 'ssh' });
