// Client for test/bench/metrics-endpoint.ts, run as its own process (as Prometheus is), so
// that parsing the responses and the client's garbage collection do not land on the
// bridge's event loop it measures. One request at a time, the kinds interleaved, over one
// kept-alive connection. Reads JSON {base, kinds: [{name, paths, headers}], warmup, rounds}
// from stdin (the headers hold tokens: never argv); request i of a kind asks for
// paths[i % paths.length]. Prints JSON {name: sorted ms[]}.
import { Agent, request } from 'node:http';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const o = JSON.parse(input);
const base = new URL(o.base);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One GET, read to the end; resolves with the status. */
const get = (path, headers) =>
  new Promise((resolve, reject) => {
    const r = request({ host: base.hostname, port: base.port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    r.on('error', reject);
    r.end();
  });

const times = Object.fromEntries(o.kinds.map((k) => [k.name, []]));
for (let i = 0; i < o.warmup + o.rounds; i++) {
  for (const k of o.kinds) {
    const t0 = performance.now();
    const status = await get(k.paths[i % k.paths.length], k.headers);
    const ms = performance.now() - t0;
    if (status !== 200) throw new Error(`${k.name}: HTTP ${status}`);
    if (i >= o.warmup) times[k.name].push(ms);
  }
}
agent.destroy();
for (const t of Object.values(times)) t.sort((a, b) => a - b);
process.stdout.write(JSON.stringify(times));
