// The wizard's check of the environment modules answered: Lmod asked once per module
// (`<lmod> bash is-avail NAME`, exit status only; no shell) with this shell's MODULEPATH,
// the same Lmod command start-env uses on the node. A module it cannot find here is a doubt
// the operator may overrule (compute nodes can have another module tree).
import { execFile } from 'node:child_process';
import { lmodArgv } from '../start-env/modules-step.js';

type Outcome = 'available' | 'missing' | { error: string };

function isAvail(lmod: string[], name: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  const [program, ...args] = lmod;
  return new Promise((resolve) => {
    execFile(program!, [...args, 'bash', 'is-avail', name], { env, timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err) => {
      if (!err) return resolve('available');
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      if (typeof e.code === 'string') return resolve({ error: `${program} cannot be run: ${e.code}` });
      if (e.killed) return resolve({ error: `${program} did not answer within ${timeoutMs / 1000} s` });
      resolve('missing');
    });
  });
}

/** null when Lmod finds every module here, else what it could not find (or why it could not be asked). */
export async function moduleDoubt(names: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 20_000): Promise<string | null> {
  if (!names.length) return null;
  const lmod = lmodArgv({ lmodCommand: null }, env);
  const missing: string[] = [];
  for (const name of names) {
    const r = await isAvail(lmod, name, env, timeoutMs);
    if (typeof r === 'object') return `the modules could not be checked: ${r.error} (install Lmod, e.g. Debian's lmod package, or set LMOD_CMD)`;
    if (r === 'missing') missing.push(name);
  }
  if (!missing.length) return null;
  return `Lmod does not find ${missing.join(', ')} here (MODULEPATH: ${env.MODULEPATH || 'not set'}); check the name with "module avail"`;
}
