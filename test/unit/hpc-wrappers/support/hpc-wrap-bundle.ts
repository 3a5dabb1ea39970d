// Copies the built hpc-wrap bundle (one self-contained ESM file) into a temp dir and runs
// it as a child process: CLI-level tests exercise the bundle.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { killForkJobsSync } from '../../../support/fork-jobs.js';

export const REPO = resolve(import.meta.dirname, '../../../..');
export const FIXTURES = resolve(import.meta.dirname, '../fixtures');
export const TINY_SERVER = join(FIXTURES, 'tiny-server.mjs');

/**
 * A copy of the bundle `npm run build` made (dist/hpc-wrap.mjs) in its own dir, as a site
 * would install it; built first when missing (e.g. a single test file run by hand).
 */
export async function buildBundle(outDir: string): Promise<string> {
  const built = join(REPO, 'dist/hpc-wrap.mjs');
  if (!existsSync(built)) execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: 'inherit' });
  const outfile = join(outDir, 'hpc-wrap.mjs');
  copyFileSync(built, outfile);
  chmodSync(outfile, 0o755);
  return outfile;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: unknown;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

export class HpcWrap {
  constructor(
    readonly bundle: string,
    readonly configPath: string | null,
    /** Run as this account (`runuser -u`; the caller must be root), e.g. where the scheduler refuses root's jobs. */
    readonly asUser: string | null = null,
  ) {}

  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const argv = [this.bundle, ...(this.configPath ? ['--config', this.configPath] : []), ...args];
    const [cmd, cmdArgs] = this.asUser ? ['runuser', ['-u', this.asUser, '--', process.execPath, ...argv]] : [process.execPath, argv];
    return new Promise((resolvePromise, reject) => {
      const child = spawn(cmd, cmdArgs, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        let json: unknown = null;
        try {
          json = JSON.parse(stdout.trim().split('\n').pop() ?? '');
        } catch {
          /* not JSON */
        }
        resolvePromise({ code, stdout, stderr, json });
      });
      child.stdin.on('error', () => {}); // the child may close stdin early (oversized input)
      child.stdin.end(opts.input ?? '');
    });
  }
}

export interface Workspace {
  dir: string;
  workDir: string;
  logFile: string;
  configPath: string;
  wrap: HpcWrap;
  cleanup(): void;
}

/** A temp dir with hpc-wrap.yaml (fork scheduler unless `config` says otherwise). */
export function makeWorkspace(bundle: string, config: Record<string, unknown> = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'hpc-wrap-test-'));
  const workDir = join(dir, 'work');
  const logFile = join(dir, 'log', 'hpc-wrap.log');
  const configPath = join(dir, 'hpc-wrap.yaml');
  writeFileSync(configPath, stringify({ workDir, logging: { file: logFile }, scheduler: { kind: 'fork' }, ...config }));
  const cleanup = () => {
    killForkJobsSync(workDir); // a test that failed half-way leaves no fork job running
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, workDir, logFile, configPath, wrap: new HpcWrap(bundle, configPath), cleanup };
}

export function tempDir(prefix = 'hpc-wrap-bundle-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(d, { recursive: true });
  return d;
}

/** Every file below `dir` (recursively), absolute paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/** A fresh valid session id (s- + 26 base32 characters). */
export function newSessionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `s-${[...randomBytes(26)].map((b) => alphabet[b % 32]).join('')}`;
}

export function startRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    sessionId: newSessionId(),
    user: 'alice',
    serverName: '',
    env: { JUPYTERHUB_API_TOKEN: 'tok-0000', JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' },
    command: [process.execPath, TINY_SERVER],
    resources: { cpus: 1, walltime: '00:10:00' },
    script: null,
    ...overrides,
  };
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
