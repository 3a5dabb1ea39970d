// The interactive wizard: one prompt per question (@inquirer/prompts). A failed check is
// shown under the prompt and the question stays open; a soft failure (the hub cannot be
// reached from here) is shown and the operator decides whether to keep the answer.
import { confirm, input, select } from '@inquirer/prompts';
import { SchemaDescriber } from '../../config/commented-yaml.js';
import { CheckFailed } from './checks.js';
import { QUESTIONS, type Answers, type Question } from './questions.js';
import { asked, FILE_NAMES, SCHEMAS, schemaIssue } from './wizard-config.js';

const DIM = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[22m` : s);

/** Parses and checks a text answer (question check, then the schema); the reason on failure. */
function evaluate(q: Question, raw: string, a: Answers): { value: unknown } | { reason: string } {
  try {
    const value = q.check ? q.check(raw, a) : raw;
    const issue = schemaIssue(QUESTIONS, q, { ...a, [q.id]: value });
    return issue ? { reason: issue } : { value };
  } catch (err) {
    if (err instanceof CheckFailed) return { reason: err.message };
    throw err;
  }
}

async function askText(q: Question, a: Answers, preset: string | undefined): Promise<unknown> {
  for (;;) {
    const def = preset ?? ((await q.default?.(a)) as string | undefined);
    const raw = await input({
      message: q.message,
      default: def === '' ? undefined : def,
      required: def === undefined,
      validate: (s) => {
        const r = evaluate(q, s, a);
        return 'reason' in r ? r.reason : true;
      },
    });
    const r = evaluate(q, raw, a);
    if ('reason' in r) continue; // cannot happen: validate refused it already
    const doubt = q.soft ? await q.soft(r.value, a) : null;
    if (!doubt) return r.value;
    process.stdout.write(`  ! ${doubt}\n`);
    if (await confirm({ message: 'Use this answer anyway?', default: false })) return r.value;
    preset = undefined;
  }
}

/** Asks every question that applies; `presets` (from flags) become the defaults. */
export async function askInteractively(presets: Record<string, unknown>): Promise<Answers> {
  const describers = { hpc: new SchemaDescriber(SCHEMAS.hpc), hub: new SchemaDescriber(SCHEMAS.hub) };
  const a: Answers = {};
  for (const q of QUESTIONS) {
    if (!asked(q, a)) continue;
    const desc = describers[q.file].describe((q.describeKey ?? q.key).split('.'));
    process.stdout.write(DIM(`\n  ${FILE_NAMES[q.file]} ${q.key}${desc ? `: ${desc}` : ''}\n`));
    const hint = await q.hint?.(a);
    if (hint) process.stdout.write(`  ${hint}\n`);
    const preset = presets[q.id];
    if (q.kind === 'confirm') {
      a[q.id] = await confirm({ message: q.message, default: typeof preset === 'boolean' ? preset : ((await q.default?.(a)) as boolean) });
    } else if (q.kind === 'select') {
      const choices = (q.choices ?? []).map((c) => ({ value: c, name: c }));
      a[q.id] = await select({ message: q.message, choices, default: (preset as string | undefined) ?? ((await q.default?.(a)) as string) });
    } else {
      a[q.id] = await askText(q, a, preset === undefined ? undefined : String(preset));
    }
  }
  return a;
}

/** y/N before replacing a file; another path, or null to give up. */
export async function confirmOverwrite(path: string): Promise<string | null> {
  process.stdout.write(`\n${path} exists.\n`);
  if (await confirm({ message: `Overwrite ${path}?`, default: false })) return path;
  const other = await input({ message: 'Write to which file instead? (empty = write nothing)', default: undefined });
  return other.trim() ? other.trim() : null;
}
