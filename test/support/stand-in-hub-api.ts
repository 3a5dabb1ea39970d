// Stands in for JupyterHub's batchspawner API handler (batchspawner/api.py, registered by
// `import batchspawner`): POST {hub prefix}api/batchspawner, token auth as a JupyterHub
// APIHandler does it (`Authorization: token T`; an unknown or missing token is 403), the
// spawner found by its api_token, the JSON body recorded. JupyterHub answers 200 (the
// handler sets 201 after finish(), which tornado ignores). `failFirst` answers 503 to the
// first N well-authenticated requests, like a hub that is restarting behind its proxy.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubReport {
  token: string;
  /** The raw body as sent. */
  raw: string;
  body: unknown;
}

export interface StandInHubApi {
  /** JUPYTERHUB_API_URL as JupyterHub sets it: http://127.0.0.1:<port>/hub/api */
  apiUrl: string;
  port: number;
  /** Every request to /hub/api/batchspawner (also refused ones), in order. */
  requests: { status: number; authorization: string | undefined }[];
  /** Bodies the handler took (after auth and the 503s). */
  reports: HubReport[];
  close(): Promise<void>;
}

export async function startStandInHubApi(opts: { tokens: string[]; failFirst?: number }): Promise<StandInHubApi> {
  let failures = opts.failFirst ?? 0;
  const requests: StandInHubApi['requests'] = [];
  const reports: HubReport[] = [];
  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const record = (status: number) => requests.push({ status, authorization: req.headers.authorization });
      if (req.url !== '/hub/api/batchspawner') return record(404), reply(res, 404, { status: 404, message: 'Not Found' });
      if (req.method !== 'POST') return record(405), reply(res, 405, { status: 405, message: 'Method Not Allowed' });
      const m = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !opts.tokens.includes(m[1]!)) return record(403), reply(res, 403, { status: 403, message: 'Forbidden' });
      if (failures > 0) {
        failures--;
        return record(503), reply(res, 503, { status: 503, message: 'Service Unavailable' });
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return record(400), reply(res, 400, { status: 400, message: 'Invalid JSON in body' });
      }
      record(200);
      reports.push({ token: m[1]!, raw, body });
      reply(res, 200, { message: 'BatchSpawner data configured' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    apiUrl: `http://127.0.0.1:${port}/hub/api`,
    port,
    requests,
    reports,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
