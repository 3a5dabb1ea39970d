// Running `hpc-wrap start-env` with a container environment in tests: the Singularity /
// Apptainer TEST DOUBLE (test/fixtures/bin/singularity) first on PATH, a run dir with the
// spool startjob would have written, and the double's argv log.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { environmentSchema } from '../../../../config/schema-environment.js';
import type { OverlayPlan } from '../../../../hpc-wrappers/overlay/overlay-plan.js';
import { newSessionId, REPO, type Workspace } from './hpc-wrap-bundle.js';

/** The directory holding the `singularity` test double and its `apptainer` symlink. */
export const DOUBLE_BIN = resolve(REPO, 'test/fixtures/bin');

export interface DoubleCall {
  runtime: string;
  argv: string[];
  cwd: string;
  env: string[];
}

export function readDoubleLog(file: string): DoubleCall[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DoubleCall);
}

/** PATH with the test double first. */
export function pathWithDouble(): string {
  return `${DOUBLE_BIN}:${process.env.PATH ?? ''}`;
}

export interface RunDirOptions {
  user?: string;
  home?: string | null;
  env?: Record<string, string>;
  container?: Record<string, unknown> | null;
  /** The environment's `modules` section (its Lmod settings are reused by container.loadModules). */
  modules?: Record<string, unknown>;
  gpus?: number | null;
  overlay?: OverlayPlan | null;
}

/** A run dir with the spool (job.json, secrets.json) that startjob would have written. */
export function runDirWithSpool(ws: Workspace, command: string[], opts: RunDirOptions = {}): string {
  const sessionId = newSessionId();
  const runDir = join(ws.workDir, 'users', 'u', 'sessions', sessionId);
  mkdirSync(join(runDir, 'spool'), { recursive: true, mode: 0o700 });
  writeFileSync(join(runDir, 'spool', 'secrets.json'), JSON.stringify({ env: opts.env ?? {} }), { mode: 0o600 });
  const environment = opts.container === null ? null : { name: 'lab', spec: environmentSchema.parse({ container: opts.container ?? {}, modules: opts.modules ?? null }) };
  writeFileSync(
    join(runDir, 'spool', 'job.json'),
    JSON.stringify({
      version: 1,
      sessionId,
      user: opts.user ?? 'alice',
      serverName: '',
      command,
      home: opts.home === undefined ? join(ws.workDir, 'homes', 'alice') : opts.home,
      jupyter: { bindAddress: '127.0.0.1', portRange: { start: 50200, end: 50900 } },
      environment,
      gpus: opts.gpus === undefined ? 0 : opts.gpus,
      overlay: opts.overlay ?? null,
      logFile: ws.logFile,
      createdAt: new Date().toISOString(),
    }),
  );
  writeFileSync(join(runDir, 'job.sh'), '#!/bin/sh\n', { mode: 0o700 });
  return runDir;
}

export function startEnvProcess(bundle: string, ws: Workspace, runDir: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [bundle, '--config', ws.configPath, 'start-env', '--run-dir', runDir], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, exited, output: () => output };
}

export const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
