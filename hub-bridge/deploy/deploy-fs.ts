// The file operations `hpc-bridge deploy` needs on the cluster side, behind one small
// interface: over SFTP for the ssh transport (sftp-deploy-fs.ts), plain node:fs for the
// local transport (this file). Paths are absolute POSIX paths.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, symlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface EntryInfo {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  mtimeMs: number;
}

export interface DeployFs {
  /** Where the files go, for messages ("sftp hpcsvc@login1:22", "local"). */
  readonly description: string;
  /** null when nothing is there; symlinks are not followed. */
  lstat(path: string): Promise<EntryInfo | null>;
  /** Creates the directory and missing parents (existing ones are left as they are). */
  mkdirp(path: string, mode: number): Promise<void>;
  /** Creates one directory; fails if it exists. */
  mkdir(path: string, mode: number): Promise<void>;
  /** Creates a new file (fails if it exists) with exactly `mode`, flushed to disk. */
  writeFile(path: string, data: Buffer, mode: number): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
  /** Renames; `to` must not exist (or, for a directory, be empty). */
  rename(from: string, to: string): Promise<void>;
  /** POSIX rename(2): atomically replaces `to`, so a reader sees the old or the new entry, never none. */
  replace(from: string, to: string): Promise<void>;
  /** Entry names, without `.` and `..`. */
  list(dir: string): Promise<string[]>;
  /** Removes a file, symlink or directory tree (symlinks are not followed); nothing there is fine. */
  removeTree(path: string): Promise<void>;
  /** Sets the modification time to now. */
  touch(path: string): Promise<void>;
  close(): Promise<void>;
}

export function kindOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryInfo['kind'] {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  return st.isFile() ? 'file' : 'other';
}

/** Flushes a directory's entries (a rename in it) to disk. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The local transport's side: this machine's filesystem (a hub host that is a cluster client). */
export class LocalDeployFs implements DeployFs {
  readonly description = 'local';

  async lstat(path: string): Promise<EntryInfo | null> {
    try {
      const st = await lstat(path);
      return { kind: kindOf(st), mtimeMs: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async mkdirp(path: string, mode: number): Promise<void> {
    await mkdir(path, { recursive: true, mode });
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await mkdir(path, { mode });
    await chmod(path, mode);
  }

  async writeFile(path: string, data: Buffer, mode: number): Promise<void> {
    const fh = await open(path, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // the umask may have taken bits away
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  readlink(path: string): Promise<string> {
    return readlink(path);
  }

  async symlink(target: string, path: string): Promise<void> {
    await symlink(target, path);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
    await syncDir(dirname(to));
  }

  async replace(from: string, to: string): Promise<void> {
    await rename(from, to);
    await syncDir(dirname(to));
  }

  async list(dir: string): Promise<string[]> {
    return readdir(dir);
  }

  async removeTree(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  async touch(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now);
  }

  async close(): Promise<void> {}
}
