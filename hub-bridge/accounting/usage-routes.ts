// GET /v1/usage?from=&to=&by= — the same report as `hpc-bridge usage --json`.
import express, { type Router } from 'express';
import { RequestError } from '../sessions/session-service.js';
import type { AccountingStore } from './accounting-store.js';
import { usageQuery, usageReport } from './usage.js';

export function usageRoutes(accounting: AccountingStore | undefined): Router {
  const r = express.Router();
  r.get('/v1/usage', (req, res) => {
    if (!accounting) throw new RequestError(404, 'not_found', 'usage accounting is not set up in this bridge');
    let q;
    try {
      q = usageQuery({ from: req.query.from, to: req.query.to, by: req.query.by });
    } catch (err) {
      throw new RequestError(400, 'bad_request', (err as Error).message);
    }
    res.json(usageReport(q, accounting.rows(q.from, q.to)));
  });
  return r;
}
