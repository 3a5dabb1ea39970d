// The wizard from flags (--non-interactive): the same questions and checks, but a failed
// check ends the run with the reason (exit 2) instead of asking again. A missing flag takes
// the question's default; a question without a default needs its flag.
import { CheckFailed } from './checks.js';
import { QUESTIONS, type Answers } from './questions.js';
import { asked, schemaIssue } from './wizard-config.js';

export class WizardInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WizardInputError';
  }
}

export async function answersFromFlags(flags: Record<string, unknown>, acceptUnreachable: boolean): Promise<Answers> {
  const a: Answers = {};
  for (const q of QUESTIONS) {
    if (!asked(q, a)) continue;
    const given = flags[q.id];
    const value = given !== undefined ? given : await q.default?.(a);
    if (value === undefined) throw new WizardInputError(`--${q.id} is required (${q.message})`);
    if (q.kind === 'confirm') {
      a[q.id] = value === true || value === 'true';
      continue;
    }
    if (q.kind === 'select') {
      if (!q.choices?.includes(String(value))) throw new WizardInputError(`--${q.id}: "${String(value)}" is not one of ${q.choices?.join(', ')}`);
      a[q.id] = String(value);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = q.check ? q.check(String(value), a) : String(value);
    } catch (err) {
      if (err instanceof CheckFailed) throw new WizardInputError(`--${q.id}: ${err.message}`);
      throw err;
    }
    const issue = schemaIssue(QUESTIONS, q, { ...a, [q.id]: parsed });
    if (issue) throw new WizardInputError(`--${q.id}: ${issue}`);
    const doubt = q.soft ? await q.soft(parsed, a) : null;
    if (doubt && !acceptUnreachable) throw new WizardInputError(`--${q.id}: ${doubt} (pass --accept-unreachable to keep it)`);
    a[q.id] = parsed;
  }
  return a;
}
