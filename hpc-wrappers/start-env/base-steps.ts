// The base environment steps: the inherited environment plus the hub's secret env,
// the per-user home, and the server's port with JUPYTERHUB_SERVICE_URL rewritten.
//
// Debian's jupyterhub-singleuser (JupyterHub 3.0, notebook 6.4) takes its default ip
// and port from JUPYTERHUB_SERVICE_URL (singleuser/mixins.py _ip_default/_port_default),
// and JupyterHub >= 2 passes no --ip/--port, so rewriting that variable is all it needs;
// no argv is added (the command may be a wrapper that does not know those options).
import { hostUrl } from '../../contract/url.js';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { pickFreePort } from './port-picker.js';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';

/** The job's environment minus hpc-wrap's own variables, plus the hub's env (which wins). */
export const hubEnvironmentStep: EnvironmentStep = {
  name: 'hub-environment',
  async prepare(ctx) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith('HPC_WRAP_')) env[k] = v;
    }
    Object.assign(env, ctx.hubEnv);
    ctx.env = env;
  },
};

/** HOME = the per-user home made by startjob (created here too if the node does not see it yet). */
export const homeStep: EnvironmentStep = {
  name: 'home',
  async prepare(ctx) {
    const home = ctx.job.home;
    if (!home) return;
    mkdirSync(home, { recursive: true, mode: 0o700 });
    ctx.env.HOME = home;
    ctx.cwd = home;
  },
};

const WILDCARD: Record<string, string> = { '0.0.0.0': '127.0.0.1', '::': '::1' };

/** Where a client on this node connects to reach a server bound to `bind`. */
export function probeHost(bind: string): string {
  return WILDCARD[bind] ?? bind;
}

/** The address others use to reach the server (the node name for a wildcard bind). */
export function advertisedHost(bind: string): string {
  return WILDCARD[bind] ? hostname() : bind;
}

export function serviceUrl(bind: string, port: number, prefix: string | undefined): string {
  let p = prefix && prefix.startsWith('/') ? prefix : '/';
  if (!p.endsWith('/')) p += '/';
  return hostUrl('http', bind, port, p);
}

export const serverPortStep: EnvironmentStep = {
  name: 'server-port',
  async prepare(ctx) {
    const { bindAddress, portRange } = ctx.job.jupyter;
    const port = await pickFreePort(bindAddress, portRange);
    ctx.port = port;
    ctx.host = advertisedHost(bindAddress);
    ctx.env.JUPYTERHUB_SERVICE_URL = serviceUrl(bindAddress, port, ctx.env.JUPYTERHUB_SERVICE_PREFIX);
  },
};

export const BASE_STEPS: readonly EnvironmentStep[] = [hubEnvironmentStep, homeStep, serverPortStep];

export type { EnvironmentContext };
