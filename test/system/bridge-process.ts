// Runs the built bridge (dist/hpc-bridge.mjs) as its own process, as an admin would, so
// tests can SIGKILL and restart it. Its stderr (JSON logs) is kept for scanning.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export interface BridgeProcess {
  child: ChildProcess;
  url: string;
  token: string;
  log(): string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function startBridgeProcess(opts: { config: string; port: number; tokenFile: string; env?: NodeJS.ProcessEnv }): Promise<BridgeProcess> {
  const child = spawn(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', opts.config, 'serve'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: opts.env ?? process.env,
  });
  let log = '';
  child.stderr!.on('data', (d) => (log += String(d)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`bridge did not start within 60 s: ${log}`)), 60_000);
    const onData = () => {
      if (log.includes('listening on')) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        res();
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`bridge exited (${code}): ${log}`));
    });
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const token = readFileSync(opts.tokenFile, 'utf8').trim();
  return {
    child,
    url,
    token,
    log: () => log,
    async api(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json };
    },
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await gone;
    },
  };
}
