// The two files davfs2 reads for one mount, in a private temp dir (0700) on the node:
// davfs2.conf (given with -o conf=FILE) and the secrets file it names. mount.davfs reads
// both before it daemonizes, so webdav-step.ts deletes them as soon as `mount` returns.
//
// Syntax (davfs2.conf(5), checked against davfs2 1.6.1): fields are separated by blanks;
// space, tab, #, \ and " must be escaped with a backslash; escaping any other character
// (e.g. \' or \$ or \/) makes the line "malformed". A secrets line is
// `<mount point or URL> <username> <password>`; the file must be mode 0600.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function escapeDavfs(value: string): string {
  if (/[\0\n\r]/.test(value)) throw new Error('davfs2 files cannot hold NUL or line breaks');
  return value.replace(/[ \t#\\"]/g, (c) => `\\${c}`);
}

export interface DavfsFiles {
  dir: string;
  confFile: string;
  secretsFile: string;
  remove(): void;
}

export interface DavfsFilesInput {
  /** The mount point as passed to mount (the secrets line is keyed by it). */
  mountDir: string;
  username: string;
  password: string;
  /** Further davfs2.conf options (name → value). */
  config: Record<string, string | number>;
}

export function writeDavfsFiles(input: DavfsFilesInput): DavfsFiles {
  let base = tmpdir();
  if (/[,\s]/.test(base)) base = '/tmp'; // the conf path goes into a comma-separated -o list
  const dir = mkdtempSync(join(base, 'hpc-wrap-davfs-'));
  const confFile = join(dir, 'davfs2.conf');
  const secretsFile = join(dir, 'secrets');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    writeFileSync(secretsFile, `${escapeDavfs(input.mountDir)} ${escapeDavfs(input.username)} ${escapeDavfs(input.password)}\n`, { mode: 0o600, flag: 'wx' });
    const options: Record<string, string | number> = { ...input.config, secrets: secretsFile, ask_auth: 0 };
    const conf = Object.entries(options).map(([k, v]) => `${k} ${escapeDavfs(String(v))}\n`);
    writeFileSync(confFile, conf.join(''), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, confFile, secretsFile, remove };
}
