// The OpenAPI description and the express app describe the same endpoints.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../hub-bridge/api/app.js';
import { REPO } from '../../support/bridge-fixture.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route of the app, nested routers included. */
function routes(stack: Layer[]): Layer[] {
  return stack.flatMap((l) => (l.route ? [l] : l.handle?.stack ? routes(l.handle.stack) : []));
}

describe('openapi.yaml', () => {
  it('documents exactly the routes the app serves', () => {
    const spec = parse(readFileSync(join(REPO, 'hub-bridge/api/openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.keys(ops).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const app = createApp({ service: {} as never, store: {} as never, token: 'x'.repeat(32), maxBodyBytes: 1024, log: pino({ level: 'silent' }) });
    const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const served = routes(stack)
      .flatMap((l) => Object.keys(l.route!.methods).map((m) => `${m.toUpperCase()} ${l.route!.path.replace(/:(\w+)/g, '{$1}')}`))
      .sort();
    expect(served).toEqual(documented);
  });
});
