// Reading log files by lines: the last N lines that pass a filter (read backwards in
// chunks, so a large log is not read whole), and following new lines as they are appended.
// Following polls the file size: fs.watch does not see writes made on other nodes of a
// shared file system (NFS, Lustre, GPFS), where the job output and the log live.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK = 64 * 1024;

function size(file: string): number | null {
  try {
    return statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function readRange(file: string, start: number, end: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * The last `n` lines of `file` that `keep` accepts, and the offset to follow from. A last
 * line without its newline is included unless `following` (then the follower prints it
 * once it is complete).
 */
export function lastLines(file: string, n: number, keep: (line: string) => boolean = () => true, following = false): { lines: string[]; end: number } {
  let total = size(file);
  if (total === null) return { lines: [], end: 0 };
  if (following && total > 0) {
    const tail = readRange(file, Math.max(0, total - CHUNK), total);
    const nl = tail.lastIndexOf(0x0a);
    total = nl < 0 ? (total > CHUNK ? total : 0) : total - tail.length + nl + 1;
  }
  const found: string[] = [];
  let pos = total;
  let carry: Buffer = Buffer.alloc(0);
  while (pos > 0 && found.length < n) {
    const start = Math.max(0, pos - CHUNK);
    const buf: Buffer = Buffer.concat([readRange(file, start, pos), carry]);
    pos = start;
    let body = buf;
    carry = Buffer.alloc(0);
    if (start > 0) {
      // The bytes up to the first newline end a line that began in an earlier chunk.
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        carry = buf;
        continue;
      }
      carry = buf.subarray(0, nl + 1);
      body = buf.subarray(nl + 1);
    }
    const lines = body.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = lines.length - 1; i >= 0 && found.length < n; i--) if (keep(lines[i]!)) found.push(lines[i]!);
  }
  return { lines: found.reverse(), end: total };
}

export interface FollowOptions {
  from: number;
  intervalMs?: number;
  signal: AbortSignal;
  onLine(line: string): void;
}

/** Calls onLine for every complete line appended after `from` until `signal` aborts. */
export async function followLines(file: string, opts: FollowOptions): Promise<void> {
  let offset = opts.from;
  let partial = '';
  const interval = opts.intervalMs ?? 250;
  while (!opts.signal.aborted) {
    const now = size(file);
    if (now !== null && now < offset) {
      offset = 0; // truncated or rotated (logrotate copytruncate): start again at the top
      partial = '';
    }
    if (now !== null && now > offset) {
      const text = partial + readRange(file, offset, now).toString('utf8');
      offset = now;
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      lines.forEach((l) => opts.onLine(l));
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, interval);
      opts.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
