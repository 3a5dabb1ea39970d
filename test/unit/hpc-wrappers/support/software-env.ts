// Running `hpc-wrap start-env` with a software environment (modules, conda) or a WebDAV
// mount in tests: a run dir with the spool startjob would have written — job.json with the
// environment and webdav sections frozen in, secrets.json with the hub env and the spawn's
// WebDAV credentials — and a probe server that reports its environment.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { environmentSchema } from '../../../../config/schema-environment.js';
import { webdavSchema } from '../../../../config/schema-webdav.js';
import { newSessionId, type Workspace } from './hpc-wrap-bundle.js';

export const HUB_TOKEN = 'hub-token-5b1f0c9e7d';

export interface SpoolOptions {
  /** environments.<name> of hpc-wrap.yaml (parsed with the real schema); null = none. */
  environment?: Record<string, unknown> | null;
  /** The webdav section of hpc-wrap.yaml; null = none. */
  webdav?: Record<string, unknown> | null;
  /** The hub's env (secrets.json); default: a token and a service prefix. */
  hubEnv?: Record<string, string>;
  webdavCredentials?: { url?: string; username: string; password: string } | null;
  home?: string | null;
  user?: string;
}

export interface SpooledRun {
  runDir: string;
  sessionId: string;
}

export function writeRunDir(ws: Workspace, command: string[], opts: SpoolOptions = {}): SpooledRun {
  const sessionId = newSessionId();
  const runDir = join(ws.workDir, 'users', 'u', 'sessions', sessionId);
  mkdirSync(join(runDir, 'spool'), { recursive: true, mode: 0o700 });
  const hubEnv = opts.hubEnv ?? { JUPYTERHUB_API_TOKEN: HUB_TOKEN, JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' };
  writeFileSync(join(runDir, 'spool', 'secrets.json'), JSON.stringify({ env: hubEnv, webdav: opts.webdavCredentials ?? null }), { mode: 0o600 });
  const environment = opts.environment ? { name: 'sw', spec: environmentSchema.parse(opts.environment) } : null;
  const webdav = opts.webdav ? webdavSchema.parse(opts.webdav) : null;
  writeFileSync(
    join(runDir, 'spool', 'job.json'),
    JSON.stringify({
      version: 1,
      sessionId,
      user: opts.user ?? 'alice',
      serverName: '',
      command,
      home: opts.home === undefined ? join(ws.workDir, 'homes', 'alice') : opts.home,
      jupyter: { bindAddress: '127.0.0.1', portRange: { start: 51000, end: 51900 } },
      environment,
      webdav,
      logFile: ws.logFile,
      createdAt: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  writeFileSync(join(runDir, 'job.sh'), '#!/bin/sh\n', { mode: 0o700 });
  return { runDir, sessionId };
}

export interface StartEnvRun {
  child: ReturnType<typeof spawn>;
  exited: Promise<number | null>;
  output(): string;
}

/** Runs start-env as the batch job would; `env` replaces the job's environment entirely when `replaceEnv`. */
export function runStartEnv(bundle: string, ws: Workspace, runDir: string, env: NodeJS.ProcessEnv = {}, replaceEnv = false): StartEnvRun {
  const child = spawn(process.execPath, [bundle, '--config', ws.configPath, 'start-env', '--run-dir', runDir], {
    env: replaceEnv ? env : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, exited, output: () => output };
}

/** A server command that prints its environment as one JSON line `ENV {...}` and exits 0. */
export function envReporter(extra = ''): string[] {
  // The token's value is never printed: only whether it is the hub's.
  const code = `${extra}\nconst e = { ...process.env }; if (e.JUPYTERHUB_API_TOKEN) e.JUPYTERHUB_API_TOKEN = e.JUPYTERHUB_API_TOKEN === ${JSON.stringify(HUB_TOKEN)} ? '<hub token>' : '<other>';\nconsole.log('ENV ' + JSON.stringify({ env: e, cwd: process.cwd() }));`;
  return [process.execPath, '-e', code];
}

/** The environment the reporter printed. */
export function reportedEnv(output: string): { env: Record<string, string>; cwd: string } {
  const line = output.split('\n').find((l) => l.startsWith('ENV {'));
  if (!line) throw new Error(`the server printed no environment; output:\n${output}`);
  return JSON.parse(line.slice(4));
}

export const statusOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8')) as { phase: string; message: string | null };
