// The run dir's small state files: status.json (start-env's phase, host and port),
// exit.json (how the server ended), cancelled.json (killjob was asked) and the tail of
// output.log. Written atomically by one side, read tolerantly by the other.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isRecord, readJsonOrNull, writeJsonAtomic } from './json-files.js';
import { runDirPaths, SHARED_FILE_MODE } from './layout.js';
import { SERVER_PHASES as PHASES, TUNNEL_STATES, type ServerPhase, type TunnelState } from '../contract/job-phases.js';
import type { ServerStatus } from '../contract/jobstate.js';

export type { ServerPhase, TunnelState } from '../contract/job-phases.js';
export type { ServerStatus } from '../contract/jobstate.js';

export interface ExitRecord {
  exitCode: number | null;
  signal: string | null;
  endedAt: string;
  error?: string | null;
}

/** Writes status.json; tunnel fields not given are kept from the file (the tunnel step owns them). */
export function writeServerStatus(runDir: string, status: ServerStatus): void {
  const from = status.tunnel === undefined ? (readServerStatus(runDir) ?? status) : status;
  const tunnel = { tunnel: from.tunnel ?? null, tunnelLastError: from.tunnelLastError ?? null };
  writeJsonAtomic(runDirPaths(runDir).statusFile, { ...status, ...tunnel, updatedAt: new Date().toISOString() }, SHARED_FILE_MODE);
}

/** Updates only the tunnel fields of status.json (phase, host, port and message stay). */
export function writeTunnelStatus(runDir: string, tunnel: TunnelState, lastError: string | null): void {
  const prev = readServerStatus(runDir) ?? { phase: 'environment' as const, host: null, port: null, message: null };
  writeServerStatus(runDir, { ...prev, tunnel, tunnelLastError: lastError });
}

export function readServerStatus(runDir: string): ServerStatus | null {
  const v = readJsonOrNull(runDirPaths(runDir).statusFile);
  if (!isRecord(v) || !PHASES.includes(v.phase as ServerPhase)) return null;
  return {
    phase: v.phase as ServerPhase,
    host: typeof v.host === 'string' ? v.host : null,
    port: typeof v.port === 'number' ? v.port : null,
    message: typeof v.message === 'string' ? v.message : null,
    tunnel: TUNNEL_STATES.includes(v.tunnel as TunnelState) ? (v.tunnel as TunnelState) : null,
    tunnelLastError: typeof v.tunnelLastError === 'string' ? v.tunnelLastError : null,
  };
}

export function writeExitRecord(runDir: string, rec: Omit<ExitRecord, 'endedAt'>): void {
  writeJsonAtomic(runDirPaths(runDir).exitFile, { ...rec, endedAt: new Date().toISOString() }, SHARED_FILE_MODE);
}

export function readExitRecord(runDir: string): ExitRecord | null {
  const v = readJsonOrNull(runDirPaths(runDir).exitFile);
  if (!isRecord(v)) return null;
  return {
    exitCode: typeof v.exitCode === 'number' ? v.exitCode : null,
    signal: typeof v.signal === 'string' ? v.signal : null,
    endedAt: typeof v.endedAt === 'string' ? v.endedAt : '',
    error: typeof v.error === 'string' ? v.error : null,
  };
}

export function markCancelled(runDir: string): void {
  writeJsonAtomic(runDirPaths(runDir).cancelledFile, { cancelledAt: new Date().toISOString() }, SHARED_FILE_MODE);
}

export function readCancelledAt(runDir: string): string | null {
  const v = readJsonOrNull(runDirPaths(runDir).cancelledFile);
  return isRecord(v) && typeof v.cancelledAt === 'string' ? v.cancelledAt : null;
}

const TAIL_BYTES = 64 * 1024;

/** The last `lines` lines of a file (reads at most its last 64 KiB), or null. */
export function tailLines(file: string, lines: number): string | null {
  if (lines <= 0) return null;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    let text = buf.toString('utf8');
    if (len < size) text = text.slice(text.indexOf('\n') + 1); // drop a partial first line
    const all = text.replace(/\n$/, '').split('\n');
    return all.slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}
