// The wizard's profiles question (hub-bridge.yaml `profiles`): one line of compact entries,
// "NAME CPUS MEMORY WALLTIME [PARTITION [GPUS]] [+MODULE ...]" separated by ";", parsed into
// profile objects the real schema then checks; a profile's "+MODULE"s are loaded on top of
// the environment's modules (the wizard gives that profile its own environment). The default offers one profile per partition the
// scheduler reports (asked once, with the commands and environment just answered), and a
// partition the scheduler does not report (or reports down) is a doubt the operator may
// overrule: the login node may not see every partition the bridge will.
import type { PartitionInfo } from '../../contract/partitions.js';
import { SCHEDULERS } from '../schedulers/registry.js';
import { CheckFailed } from './checks.js';

type Answers = Record<string, unknown>;

export interface WizardProfile {
  name: string;
  displayName: string;
  resources: { cpus: number; memoryMB: number; walltime: string; partition?: string; gpus?: number };
  /** Modules only this profile loads (its "+MODULE" words); not a hub-bridge.yaml key. */
  modules?: string[];
}

export const PROFILE_FORMAT = 'NAME CPUS MEMORY WALLTIME [PARTITION [GPUS]] [+MODULE ...]';
/** A module name as the schema takes it (modules.load). */
const MODULE_RE = /^[A-Za-z0-9_.+@:][A-Za-z0-9_.+@:/-]{0,199}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PARTITION_RE = /^[A-Za-z0-9_.,-]{1,64}$/;
/** The schema's walltime (a Slurm time): minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]. */
const WALLTIME_RE = /^(\d+-)?\d{1,3}(:\d{2}){0,2}$/;
/** What a profile gets when the operator just presses Enter: a notebook, not a batch job. */
const DEFAULT_SHAPE = '1 2G 01:00:00';

function memoryMB(raw: string, where: string): number {
  const m = /^(\d+)([MG])?(?:i?B)?$/i.exec(raw);
  if (!m) throw new CheckFailed(`${where}: memory "${raw}" is not a size: give MiB as a number (2048) or with a unit (2048M, 2G)`);
  const n = Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1024 : 1);
  if (n < 16 || n > 16 * 1024 * 1024) throw new CheckFailed(`${where}: memory ${n} MiB is outside 16 MiB to 16 TiB`);
  return n;
}

function whole(raw: string, where: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new CheckFailed(`${where}: ${what} must be a whole number from ${min} to ${max}, not "${raw}"`);
  return Number(raw);
}

function minutesText(walltime: string): string {
  const [days, rest] = walltime.includes('-') ? (walltime.split('-') as [string, string]) : ['0', walltime];
  const parts = rest.split(':').map(Number);
  // Slurm: "M", "M:S", "H:M:S"; with days: "D-H", "D-H:M", "D-H:M:S".
  const [h, m] = walltime.includes('-') ? [parts[0] ?? 0, parts[1] ?? 0] : parts.length === 3 ? [parts[0]!, parts[1]!] : [0, parts[0]!];
  const total = Number(days) * 24 * 60 + h * 60 + m;
  if (total < 60) return `${total} min`;
  return total % 60 === 0 ? `${total / 60} h` : `${Math.floor(total / 60)} h ${total % 60} min`;
}

/** One entry "NAME CPUS MEMORY WALLTIME [PARTITION [GPUS]]" as a profile; throws CheckFailed naming the entry. */
function parseEntry(entry: string, index: number): WizardProfile {
  const words = entry.split(/\s+/);
  const where = `profile ${index + 1} ("${entry}")`;
  const modules = words.filter((w) => w.startsWith('+')).map((w) => w.slice(1));
  for (const m of modules) if (!MODULE_RE.test(m)) throw new CheckFailed(`${where}: "+${m}" is not a module name (letters, digits, _ . + @ : / -), e.g. +cuda/12.2`);
  const f = words.filter((w) => !w.startsWith('+'));
  if (f.length < 4 || f.length > 6) throw new CheckFailed(`${where} has ${f.length} field(s); give ${PROFILE_FORMAT}, e.g. "small 1 2G 01:00:00"`);
  const [name, cpusRaw, memRaw, walltime, partitionRaw, gpusRaw] = f as [string, string, string, string, string?, string?];
  if (!NAME_RE.test(name)) throw new CheckFailed(`${where}: name "${name}" must start with a letter or digit and have only letters, digits, _ . - (at most 64)`);
  const cpus = whole(cpusRaw, where, 'CPUS', 1, 1024);
  const mem = memoryMB(memRaw, where);
  if (!WALLTIME_RE.test(walltime)) throw new CheckFailed(`${where}: walltime "${walltime}" is not a Slurm time: give e.g. 30 (minutes), 01:00:00 or 1-00:00:00`);
  const partition = partitionRaw === undefined || partitionRaw === '-' ? undefined : partitionRaw;
  if (partition !== undefined && !PARTITION_RE.test(partition)) throw new CheckFailed(`${where}: partition "${partition}" has characters a partition name cannot have (letters, digits, _ . , -); "-" = the scheduler's default`);
  const gpus = gpusRaw === undefined ? 0 : whole(gpusRaw, where, 'GPUS', 0, 64);
  const shape = [`${cpus} CPU${cpus === 1 ? '' : 's'}`, mem % 1024 === 0 ? `${mem / 1024} GB` : `${mem} MB`, minutesText(walltime), ...(gpus ? [`${gpus} GPU${gpus === 1 ? '' : 's'}`] : [])];
  return {
    name,
    displayName: `${name}: ${shape.join(', ')}${partition ? ` (${partition})` : ''}${modules.length ? ` with ${modules.join(', ')}` : ''}`,
    resources: { cpus, memoryMB: mem, walltime, ...(partition ? { partition } : {}), ...(gpus ? { gpus } : {}) },
    ...(modules.length ? { modules } : {}),
  };
}

/** The profiles line as profile objects (at least one, unique names). */
export function parseProfiles(raw: string): WizardProfile[] {
  const entries = raw.split(/[;\n]/).map((e) => e.trim()).filter(Boolean);
  if (!entries.length) throw new CheckFailed(`give at least one profile: ${PROFILE_FORMAT}, several separated by ";"`);
  const profiles = entries.map(parseEntry);
  const seen = new Set<string>();
  for (const p of profiles) {
    if (seen.has(p.name)) throw new CheckFailed(`two profiles are named "${p.name}": profile names must be unique`);
    seen.add(p.name);
  }
  return profiles;
}

// ---------------------------------------------------------------- the scheduler's partitions

const asked = new Map<string, Promise<PartitionInfo[] | null>>();

/** The partitions the chosen scheduler reports with the answered commands and environment; null when none, or it could not be asked. */
export function reportedPartitions(a: Answers): Promise<PartitionInfo[] | null> {
  const def = SCHEDULERS.find((s) => s.kind === a.scheduler);
  if (!def?.batchSystem) return Promise.resolve(null);
  const settings = { kind: def.kind, submit: a.submit, query: a.query, cancel: a.cancel, env: a['scheduler-env'] ?? {} };
  const key = JSON.stringify(settings);
  let p = asked.get(key);
  if (!p) {
    p = (async () => {
      try {
        return (await def.create(settings, { forkDir: '/nonexistent', selfCommand: [] }).partitions?.()) ?? null;
      } catch {
        return null; // the profiles cannot be checked against it; the bridge marks them later
      }
    })();
    asked.set(key, p);
  }
  return p;
}

const profileName = (partition: string) => partition.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'default';

/** One profile per partition that takes jobs (the default one first, at most 4), else one without a partition. */
export async function defaultProfiles(a: Answers): Promise<string> {
  const parts = ((await reportedPartitions(a)) ?? []).filter((p) => p.available);
  if (!parts.length) return `default ${DEFAULT_SHAPE}`;
  parts.sort((x, y) => Number(y.default) - Number(x.default));
  return parts
    .slice(0, 4)
    .map((p) => `${profileName(p.name)} ${DEFAULT_SHAPE} ${p.name}`)
    .join('; ');
}

/** null when every partition named is one the scheduler reports as taking jobs (or it could not be asked), else which are not. */
export async function partitionDoubt(profiles: WizardProfile[], a: Answers): Promise<string | null> {
  const parts = await reportedPartitions(a);
  if (!parts) return null;
  const doubts: string[] = [];
  for (const p of profiles) {
    const named = p.resources.partition;
    if (!named) continue;
    for (const one of named.split(',')) {
      const found = parts.find((x) => x.name === one);
      if (!found) doubts.push(`profile ${p.name}: the scheduler reports no partition "${one}"`);
      else if (!found.available) doubts.push(`profile ${p.name}: partition "${one}" is ${found.state}`);
    }
  }
  if (!doubts.length) return null;
  return `${doubts.join('; ')} (partitions here: ${parts.map((x) => `${x.name}${x.default ? '*' : ''} ${x.state}`).join(', ')}); the bridge marks such a profile unavailable`;
}
