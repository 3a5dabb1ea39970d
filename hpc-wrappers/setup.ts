// `hpc-wrap setup`: prepares the shared directories under workDir once, as the service
// account (docs/identity.md). In per-user mode students' startjob (run through sudo as the
// student) creates their own directories inside them, so these must let any account create
// an entry but not list, rename or remove another's (sticky bit), and users/ hands its group
// (the service group, setgid) to every run dir so the service account can read status files.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';
import { overlayLocation } from './overlay/overlay-plan.js';

export interface SetupStep {
  path: string;
  mode: string;
  group: string | null;
  action: 'created' | 'updated' | 'unchanged' | 'planned';
}

/** The gid of a group (getent also answers for LDAP/SSSD groups), or an error naming the key. */
function groupId(name: string): number {
  let out: string;
  try {
    out = execFileSync('getent', ['group', name], { encoding: 'utf8' });
  } catch {
    throw new WrapError('invalid', `identity.serviceGroup: there is no group "${name}" on this machine (getent group ${name})`);
  }
  const gid = Number(out.split(':')[2]);
  if (!Number.isInteger(gid)) throw new WrapError('internal', `getent group ${name} printed no gid`);
  return gid;
}

export function setupPlan(ctx: CommandContext): Array<{ path: string; mode: number; group: string | null }> {
  const { config, layout } = ctx;
  const perUser = layout.perUser;
  const group = perUser ? config.identity.serviceGroup : null;
  const open = perUser ? 0o1733 : 0o711; // per-user: anyone may create their own entry, nobody may list
  const plan = [
    { path: layout.workDir, mode: 0o711, group: null },
    { path: layout.usersDir, mode: perUser ? 0o3773 : 0o711, group },
    { path: join(layout.workDir, 'log'), mode: 0o700, group: null },
  ];
  const homes = layout.homesRoot();
  if (homes) plan.push({ path: homes, mode: open, group: null });
  if (config.overlays.enabled && config.overlays.mode === 'auto') plan.push({ path: overlayLocation(config), mode: open, group: null });
  return plan;
}

export function setup(ctx: CommandContext, opts: { dryRun: boolean }): { steps: SetupStep[]; next: string } {
  const steps: SetupStep[] = [];
  for (const { path, mode, group } of setupPlan(ctx)) {
    const show = mode.toString(8).padStart(4, '0');
    let before: { mode: number; gid: number } | null = null;
    try {
      const st = statSync(path);
      before = { mode: st.mode & 0o7777, gid: st.gid };
    } catch {
      /* missing */
    }
    if (opts.dryRun) {
      steps.push({ path, mode: show, group, action: 'planned' });
      continue;
    }
    if (!before) mkdirSync(path, { recursive: true, mode: 0o711 });
    const gid = group ? groupId(group) : null;
    if (gid !== null && before?.gid !== gid) chownSync(path, -1, gid);
    chmodSync(path, mode);
    const changed = !before || before.mode !== mode || (gid !== null && before.gid !== gid);
    steps.push({ path, mode: show, group, action: before ? (changed ? 'updated' : 'unchanged') : 'created' });
  }
  ctx.log.info('setup.done', { dryRun: opts.dryRun, paths: steps.map((s) => `${s.path} ${s.mode} ${s.action}`) });
  return { steps, next: 'Next: `hpc-wrap doctor` checks the directories, the scheduler and the identity mode.' };
}
