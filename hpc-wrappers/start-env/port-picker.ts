// Picks a free TCP port in a range by trying random ports and binding them for a moment.
import { createServer } from 'node:net';

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function pickFreePort(host: string, range: { start: number; end: number }, tries = 64): Promise<number> {
  const size = range.end - range.start + 1;
  const seen = new Set<number>();
  for (let i = 0; i < tries && seen.size < size; i++) {
    const port = range.start + Math.floor(Math.random() * size);
    if (seen.has(port)) continue;
    seen.add(port);
    if (await canBind(host, port)) return port;
  }
  throw new Error(`no free port on ${host} in ${range.start}-${range.end} after ${seen.size} tries (jupyter.portRange in hpc-wrap.yaml)`);
}
