// DeployFs over SFTP (ssh2), on a session SshTransport.sftp() opened on a pooled,
// host-key-verified connection. The atomic replace is OpenSSH's posix-rename@openssh.com
// extension: the plain SFTP rename refuses an existing target.
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { kindOf, type DeployFs, type EntryInfo } from './deploy-fs.js';

const NO_SUCH_FILE = 2;
const CHUNK = 64 * 1024;

type Cb<T> = (err: Error | undefined | null, value: T) => void;

export class SftpDeployFs implements DeployFs {
  constructor(
    private readonly sftp: SFTPWrapper,
    readonly description: string,
    private readonly onClose: () => void,
  ) {}

  /** Calls one callback-style SFTP method; a synchronous throw (unsupported extension) rejects too. */
  private call<T>(what: string, path: string, fn: (cb: Cb<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error) => {
        const e = new Error(`${what} ${path} (${this.description}): ${err.message}`) as Error & { code?: unknown };
        e.code = (err as Error & { code?: unknown }).code;
        reject(e);
      };
      try {
        fn((err, value) => (err ? fail(err) : resolve(value)));
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  async lstat(path: string): Promise<EntryInfo | null> {
    try {
      const st = await this.call<Stats>('lstat', path, (cb) => this.sftp.lstat(path, cb));
      return { kind: kindOf(st), mtimeMs: st.mtime * 1000 };
    } catch (err) {
      if ((err as { code?: unknown }).code === NO_SUCH_FILE) return null;
      throw err;
    }
  }

  async mkdirp(path: string, mode: number): Promise<void> {
    let cur = '/';
    for (const part of path.split('/').filter(Boolean)) {
      cur = posix.join(cur, part);
      const st = await this.lstat(cur);
      if (st === null) await this.mkdir(cur, mode);
      else if (st.kind !== 'dir' && st.kind !== 'symlink') throw new Error(`${cur} (${this.description}) exists and is not a directory`);
    }
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.call<void>('mkdir', path, (cb) => this.sftp.mkdir(path, { mode }, (e) => cb(e, undefined)));
    await this.call<void>('chmod', path, (cb) => this.sftp.chmod(path, mode, (e) => cb(e, undefined)));
  }

  async writeFile(path: string, data: Buffer, mode: number): Promise<void> {
    const handle = await this.call<Buffer>('create', path, (cb) => this.sftp.open(path, 'wx', { mode }, cb));
    try {
      // every chunk in flight at once: one round trip for the file, not one per chunk
      const writes: Promise<void>[] = [];
      for (let off = 0; off < data.length; off += CHUNK) {
        const len = Math.min(CHUNK, data.length - off);
        writes.push(this.call<void>('write', path, (cb) => this.sftp.write(handle, data, off, len, off, (e) => cb(e, undefined))));
      }
      await Promise.all(writes);
      await this.call<void>('chmod', path, (cb) => this.sftp.fchmod(handle, mode, (e) => cb(e, undefined)));
      if (this.supports('fsync@openssh.com')) {
        await this.call<void>('fsync', path, (cb) => this.sftp.ext_openssh_fsync(handle, (e) => cb(e, undefined)));
      }
    } finally {
      await this.call<void>('close', path, (cb) => this.sftp.close(handle, (e) => cb(e, undefined))).catch(() => {});
    }
  }

  readFile(path: string): Promise<Buffer> {
    return this.call<Buffer>('read', path, (cb) => this.sftp.readFile(path, cb));
  }

  readlink(path: string): Promise<string> {
    return this.call<string>('readlink', path, (cb) => this.sftp.readlink(path, cb));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call<void>('symlink', path, (cb) => this.sftp.symlink(target, path, (e) => cb(e, undefined)));
  }

  rename(from: string, to: string): Promise<void> {
    return this.call<void>('rename', `${from} to ${to}`, (cb) => this.sftp.rename(from, to, (e) => cb(e, undefined)));
  }

  async replace(from: string, to: string): Promise<void> {
    if (!this.supports('posix-rename@openssh.com')) {
      throw new Error(
        `the SFTP server (${this.description}) lacks the posix-rename@openssh.com extension, so ${to} cannot be replaced atomically; ` +
          'deploy with an OpenSSH sftp-server on the login node',
      );
    }
    await this.call<void>('rename', `${from} over ${to}`, (cb) => this.sftp.ext_openssh_rename(from, to, (e) => cb(e, undefined)));
  }

  async list(dir: string): Promise<string[]> {
    const entries = await this.call<{ filename: string }[]>('list', dir, (cb) => this.sftp.readdir(dir, cb));
    return entries.map((e) => e.filename).filter((n) => n !== '.' && n !== '..');
  }

  async removeTree(path: string): Promise<void> {
    const st = await this.lstat(path);
    if (st === null) return;
    if (st.kind !== 'dir') {
      await this.call<void>('remove', path, (cb) => this.sftp.unlink(path, (e) => cb(e, undefined)));
      return;
    }
    for (const name of await this.list(path)) await this.removeTree(posix.join(path, name));
    await this.call<void>('rmdir', path, (cb) => this.sftp.rmdir(path, (e) => cb(e, undefined)));
  }

  async touch(path: string): Promise<void> {
    const now = new Date();
    await this.call<void>('touch', path, (cb) => this.sftp.utimes(path, now, now, (e) => cb(e, undefined)));
  }

  async close(): Promise<void> {
    this.onClose();
  }

  /** ssh2 records the extensions the server announced (and throws when an unsupported one is used). */
  private supports(ext: string): boolean {
    const exts = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return exts !== undefined && ext in exts;
  }
}
