// The gateway's audit trail: one JSON line per issue, redeem (and refused redeem), route
// up/down, token re-issue and removal, appended to a 0600 file. Routes appear only by
// fingerprint; tokens, cookies, labels and route secrets never.
import { appendFileSync, chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type AuditEvent =
  | 'issue'
  | 'register-refused'
  | 'redeem'
  | 'redeem-refused'
  | 'token-reissued'
  | 'route-up'
  | 'route-down'
  | 'job-moved'
  | 'removed';

export type AuditFields = Record<string, string | number | boolean | null | undefined>;

export class AuditLog {
  private warned = false;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (!existsSync(file)) appendFileSync(file, '', { mode: 0o600 });
    chmodSync(file, 0o600);
  }

  write(event: AuditEvent, fields: AuditFields): void {
    const entry: Record<string, unknown> = { time: new Date().toISOString(), event };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) entry[k] = v;
    try {
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`hpc-bridge gateway: cannot write the audit log ${this.file}: ${(err as Error).message}\n`);
      }
    }
  }
}
