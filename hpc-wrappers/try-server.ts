// `hpc-wrap try-server`: the stand-in notebook server that `hpc-bridge try` starts as a
// throw-away session. It needs nothing but this file and Node on the compute node, so the
// smoke test checks the chain (transport, scheduler, start-env, port, tunnel) and not a
// Python environment. Like jupyterhub-singleuser it listens where JUPYTERHUB_SERVICE_URL
// says (start-env sets it) and answers <prefix>api with JSON; it serves nothing else.
import { createServer } from 'node:http';
import { hostname } from 'node:os';

export const TRY_SERVER_VERSION = 'hpc-bridge-try';

export async function tryServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.JUPYTERHUB_SERVICE_URL) throw new Error('JUPYTERHUB_SERVICE_URL is not set: this server is started by start-env inside a job (hpc-bridge try), not by hand');
  const url = new URL(env.JUPYTERHUB_SERVICE_URL);
  const prefix = env.JUPYTERHUB_SERVICE_PREFIX ?? '/';
  const api = `${prefix.endsWith('/') ? prefix : `${prefix}/`}api`;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === api || req.url === `${api}/`)) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: TRY_SERVER_VERSION, node: hostname(), pid: process.pid }));
      return;
    }
    res.statusCode = 404;
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(url.port), url.hostname, resolve);
  });
  process.stdout.write(`hpc-wrap try-server: listening on ${url.host} for ${api}\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => server.close(() => resolve()));
  });
}
