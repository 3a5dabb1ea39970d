// The WebDAV step (pc2's enable_webdav): mount the user's share with davfs2 before the
// server starts, unmount it when the server has ended. The credentials exist on disk only
// in a 0600 secrets file in a private 0700 temp dir that is deleted as soon as `mount`
// returns (mount.davfs has read it by then); never in argv, never in the environment of
// the mount process (it gets a minimal env), never in a message. Observed with davfs2
// 1.6.1: a wrong password fails at once ("Could not authenticate to server"); an
// unreachable server is mounted ANYWAY with exit status 0 ("server temporarily
// unreachable; mounting anyway"), so that case is detected and undone here; a server that
// accepts but never answers hangs mount until the timeout kills its process group.
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { WebdavConfig, WebdavCredentials } from '../../config/schema-webdav.js';
import { resolveMountDir, resolveWebdavUrl } from '../webdav-target.js';
import { writeDavfsFiles } from './davfs-files.js';
import { helperFailure, helperMessage, runHelper, succeeded, type HelperResult } from './helper-process.js';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';

/** mount/umount need nothing of the job's or the hub's environment. */
function minimalEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', LANG: 'C' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

/** True when `dir` is a mount point in this mount namespace (/proc/self/mountinfo). */
export function isMountPoint(dir: string): boolean {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info.split('\n').some((line) => decode(line.split(' ')[4] ?? '') === dir);
}

function readCredentialsFile(template: string, home: string | null): WebdavCredentials {
  if (template.includes('{home}') && !home) throw new Error('webdav.credentialsFile: uses {home}, but this cluster makes no per-user homes');
  const file = template.replaceAll('{home}', home ?? '');
  if (!existsSync(file)) throw new Error(`webdav.credentialsFile: ${file} does not exist`);
  const st = statSync(file);
  if (!st.isFile()) throw new Error(`webdav.credentialsFile: ${file} is not a file`);
  if (st.mode & 0o077) throw new Error(`webdav.credentialsFile: ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); make it 0600`);
  if (process.getuid && st.uid !== process.getuid()) throw new Error(`webdav.credentialsFile: ${file} does not belong to the job's user`);
  const [username, password] = readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
  if (!username || !password) throw new Error(`webdav.credentialsFile: ${file} needs the user name on line 1 and the password on line 2`);
  return { username, password };
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text;
}

function whyMountFailed(r: HelperResult, url: string, dir: string, cfg: WebdavConfig, unreachable: boolean): string {
  const said = helperMessage(r, 4);
  if (r.spawnError) return `webdav.mountCommand: cannot run ${cfg.mountCommand[0]}: ${r.spawnError}`;
  if (r.timedOut) return `webdav: mounting ${url} did not finish within ${cfg.timeoutSeconds} s (webdav.timeoutSeconds) and was stopped; is the server reachable from the node?`;
  if (unreachable) return `webdav: ${url} is unreachable from this node; the share was not mounted (davfs2: ${said})`;
  if (/authenticate|401|Unauthorized/i.test(said)) return `webdav: the server at ${url} refused the credentials (wrong user name or password?); davfs2: ${said}`;
  return `webdav: mounting ${url} at ${dir} failed: ${helperFailure('mount', r, cfg.timeoutSeconds * 1000)}${said ? `: ${said}` : ''}`;
}

interface Mounted {
  dir: string;
  cfg: WebdavConfig;
}
const mounts = new WeakMap<object, Mounted>();

async function unmount(ctx: Pick<EnvironmentContext, 'say'>, dir: string, cfg: WebdavConfig): Promise<void> {
  const timeoutMs = cfg.timeoutSeconds * 1000;
  const r = await runHelper([...cfg.umountCommand, dir], { env: minimalEnv(), timeoutMs });
  if (!succeeded(r) && isMountPoint(dir)) {
    throw new Error(`unmounting ${dir} failed: ${helperFailure('umount', r, timeoutMs)}: ${helperMessage(r, 3)}`);
  }
}

export const webdavStep: EnvironmentStep = {
  name: 'webdav',
  check(ctx) {
    // The spawn's URL must lie below webdav.allowedUrlPrefixes (nothing is mounted yet).
    const cfg = ctx.job.webdav;
    if (cfg?.enabled && ctx.webdavCredentials) resolveWebdavUrl(cfg, ctx.webdavCredentials.url, ctx.job.user);
  },
  async prepare(ctx) {
    const cfg = ctx.job.webdav;
    if (!cfg?.enabled) return;
    const creds = ctx.webdavCredentials ?? (cfg.credentialsFile ? readCredentialsFile(cfg.credentialsFile, ctx.job.home) : null);
    if (!creds) {
      if (cfg.required) throw new Error('webdav: no credentials: the spawn sent none (startjob `webdav`) and webdav.credentialsFile is not set');
      ctx.notice('Your WebDAV share was not mounted: no credentials were given.');
      return;
    }
    const url = resolveWebdavUrl(cfg, creds.url, ctx.job.user);
    let dir = resolveMountDir(cfg, ctx.runDir, ctx.job.home);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      dir = realpathSync(dir);
    } catch (err) {
      throw new Error(`webdav.mountDir: cannot make ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (isMountPoint(dir)) throw new Error(`webdav.mountDir: ${dir} is already a mount point (another session of this user on this node?)`);

    ctx.say(`mounting the WebDAV share ${url} at ${dir}`);
    const files = writeDavfsFiles({ mountDir: dir, username: creds.username, password: creds.password, config: cfg.davfsConfig });
    let r: HelperResult;
    try {
      const options = [`conf=${files.confFile}`, ...cfg.options].join(',');
      r = await runHelper([...cfg.mountCommand, '-o', options, url, dir], { env: minimalEnv(), timeoutMs: cfg.timeoutSeconds * 1000 });
    } finally {
      files.remove();
    }
    const unreachable = /mounting anyway|temporarily unreachable/i.test(`${r.stdout}\n${r.stderr}`);
    if (!succeeded(r) || unreachable || !isMountPoint(dir)) {
      if (isMountPoint(dir)) await unmount(ctx, dir, cfg).catch((err: Error) => ctx.say(redact(err.message, creds.password)));
      throw new Error(redact(whyMountFailed(r, url, dir, cfg, unreachable), creds.password));
    }
    mounts.set(ctx, { dir, cfg });
    ctx.containerBinds.push({ source: dir, target: cfg.containerPath, mode: 'rw' });
    ctx.say(`the WebDAV share is mounted at ${dir}${cfg.containerPath ? ` (${cfg.containerPath} in a container)` : ''}`);
  },
  async teardown(ctx) {
    const m = mounts.get(ctx);
    if (!m) return;
    mounts.delete(ctx);
    await unmount(ctx, m.dir, m.cfg);
    ctx.say(`unmounted the WebDAV share at ${m.dir}`);
  },
};
