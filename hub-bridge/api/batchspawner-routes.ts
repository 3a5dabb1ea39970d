// What stock batchspawner's default Slurm regexes read (README.md "Using stock batchspawner", docs/contracts.md §6): the query
// answers like `squeue -h -j ID -o '%T %B'`, from the bridge's state (never the scheduler).
import type { Router } from 'express';
import express from 'express';
import type { SessionService } from '../sessions/session-service.js';
import { splitMessage } from '../sessions/progress-messages.js';
import type { Session } from '../sessions/types.js';
import type { SessionStore } from '../store/session-store.js';

/** The line batchspawner's `state_unknown_re` reads as UNKNOWN (it keeps the server). */
export const UNKNOWN_LINE = 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)';

/** Slurm-style `STATE HOST` for a session; HOST is where the hub reaches the server. */
export function slurmStyleLine(s: Session): string {
  // The session's host (server-address.ts): set at the first RUNNING, the same to the end.
  const host = s.tunnelPort !== null ? '127.0.0.1' : (s.host ?? 'localhost');
  if (!s.schedulerReachable || s.jobState === 'unknown') {
    if (s.state !== 'stopped' && s.state !== 'failed') return UNKNOWN_LINE;
  }
  switch (s.state) {
    case 'submitting':
    case 'queued':
      return 'PENDING';
    case 'starting':
    case 'ready':
      return `RUNNING ${host}`;
    case 'stopping':
      return 'CANCELLED';
    case 'stopped':
      return 'COMPLETED';
    case 'failed':
      // batchspawner logs the line ("neither pending nor running"): the reason helps the admin
      return `FAILED ${splitMessage(s.message ?? '').sentence}`.trim();
  }
}

function sessionByNumber(store: SessionStore, raw: string): Session | undefined {
  return /^[1-9]\d{0,15}$/.test(raw) ? store.getByNumber(Number(raw)) : undefined;
}

export function batchspawnerRoutes(store: SessionStore, service: SessionService): Router {
  const r = express.Router();
  r.get('/v1/batchspawner/:number', (req, res) => {
    const s = sessionByNumber(store, req.params.number);
    res.type('text/plain');
    if (!s) {
      res.status(404).send('');
      return;
    }
    res.send(`${slurmStyleLine(s)}\n`);
  });
  r.delete('/v1/batchspawner/:number', (req, res) => {
    const s = sessionByNumber(store, req.params.number);
    res.type('text/plain');
    if (!s) {
      res.status(404).send(`no job ${req.params.number}\n`);
      return;
    }
    service.stop(s.id);
    res.send(`cancelled ${s.number}\n`);
  });
  return r;
}
