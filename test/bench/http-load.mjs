// Load generator for test/bench/gateway.ts, run as its own process so that the client's
// work (TLS included) does not share an event loop with the server it measures.
// argv[2]: JSON {url, host?, servername?, headers, ca?, concurrency, ms}; prints JSON {count, seconds, lat (sorted ms), errors}.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

const o = JSON.parse(process.argv[2]);
const u = new URL(o.url);
const https = u.protocol === 'https:';
const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: o.concurrency, ca: o.ca ? readFileSync(o.ca) : undefined }) : new HttpAgent({ keepAlive: true, maxSockets: o.concurrency });
const request = https ? httpsRequest : httpRequest;
const once = () =>
  new Promise((resolve) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent, servername: o.servername, headers: { ...(o.host ? { host: o.host } : {}), ...o.headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    r.on('error', () => resolve(0));
    r.end();
  });
const lat = [];
let errors = 0;
const end = Date.now() + o.ms;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: o.concurrency }, async () => {
    while (Date.now() < end) {
      const s = performance.now();
      if ((await once()) !== 200) errors++;
      lat.push(performance.now() - s);
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
agent.destroy();
lat.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ count: lat.length, seconds, lat, errors }));
