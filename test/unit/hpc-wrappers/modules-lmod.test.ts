// The modules step against the REAL Lmod (Debian's lmod package): modulefiles written
// here in Lua, `module load` done through Lmod's python machine interface, the changes
// read as data (no shell, no eval) and applied to the server's environment.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LMOD } from '../../../hpc-wrappers/start-env/modules-step.js';
import { buildBundle, makeWorkspace, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';
import { envReporter, HUB_TOKEN, reportedEnv, runStartEnv, statusOf, writeRunDir } from './support/software-env.js';

const haveLmod = existsSync(DEFAULT_LMOD);
if (!haveLmod) console.warn(`modules-lmod tests skipped: ${DEFAULT_LMOD} is missing (apt-get install lmod)`);

let bundle: string;
let ws: Workspace;
let tree: string;

function moduleFile(name: string, lua: string): void {
  const file = join(tree, `${name}.lua`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, lua);
}

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  tree = join(ws.dir, 'modulefiles');
  moduleFile('foo/1.0', ['prepend_path("PATH", "/opt/foo/1.0/bin")', 'setenv("FOO_HOME", "/opt/foo/1.0")', 'setenv("FOO_QUOTE", "it\'s \\"q\\" \\\\ $HOME `x`;\\tend")', 'unsetenv("REMOVE_ME")'].join('\n'));
  moduleFile('bar/2', ['depends_on("foo/1.0")', 'append_path("MANPATH", "/opt/bar/man")', 'setenv("BAR", "line1\\nline2")'].join('\n'));
  // What Lmod itself can see of the hub's token (Lua's os.getenv runs inside Lmod).
  moduleFile('spy/1', 'setenv("SPY_SAW_TOKEN", os.getenv("JUPYTERHUB_API_TOKEN") and "yes" or "no")\nsetenv("JUPYTERHUB_API_TOKEN", "hijacked")');
  moduleFile('needs/1', 'depends_on("missing/9")');
  moduleFile('bad/1', 'LmodError("bad/1 refuses to load on this node")');
});
afterAll(() => ws.cleanup());

const modules = (extra: Record<string, unknown>) => ({ modules: { modulePath: [tree], ...extra } });

describe.skipIf(!haveLmod)('modules step with the real Lmod', () => {
  it('loads modules (with dependencies) into the server env: PATH, values with quotes/newlines/tabs, unsetenv', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['bar/2'] }) });
    const run = runStartEnv(bundle, ws, runDir, { REMOVE_ME: 'x', MODULEPATH: '' });
    expect(await run.exited, run.output()).toBe(0);
    const { env } = reportedEnv(run.output());
    expect(env.PATH!.split(':')[0]).toBe('/opt/foo/1.0/bin');
    expect(env.PATH).toContain(process.env.PATH!.split(':')[0]!);
    expect(env.FOO_HOME).toBe('/opt/foo/1.0');
    expect(env.FOO_QUOTE).toBe('it\'s "q" \\ $HOME `x`;\tend');
    expect(env.BAR).toBe('line1\nline2');
    expect(env.MANPATH).toBe('/opt/bar/man');
    expect(env.REMOVE_ME).toBeUndefined();
    expect(env.LOADEDMODULES).toBe('foo/1.0:bar/2');
    expect(env.MODULEPATH).toBe(tree);
    expect(env.JUPYTERHUB_API_TOKEN).toBe('<hub token>');
    expect(run.output()).toContain('loaded modules: bar/2');
  });

  it('runs Lmod without the hub env, and a module cannot replace the hub token', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['spy/1'] }) });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited, run.output()).toBe(0);
    const { env } = reportedEnv(run.output());
    expect(env.SPY_SAW_TOKEN).toBe('no');
    expect(env.JUPYTERHUB_API_TOKEN).toBe('<hub token>');
    expect(run.output()).toMatch(/ignored changes of JUPYTERHUB_API_TOKEN/);
    expect(run.output()).not.toContain(HUB_TOKEN);
  });

  it('prepends to the PATH the hub sent, not to the job PATH Lmod saw', async () => {
    const hubEnv = { JUPYTERHUB_API_TOKEN: HUB_TOKEN, PATH: `/hub/only/bin:${process.env.PATH}` };
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['foo/1.0'] }), hubEnv });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited, run.output()).toBe(0);
    expect(reportedEnv(run.output()).env.PATH).toBe(`/opt/foo/1.0/bin:/hub/only/bin:${process.env.PATH}`);
  });

  it('fails fast on a missing module, naming the option, the module and MODULEPATH', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['foo/1.0', 'nosuch/1.0'] }) });
    const run = runStartEnv(bundle, ws, runDir, { MODULEPATH: '' });
    expect(await run.exited).toBe(1);
    const msg = `modules.load: module 'nosuch/1.0' not found (MODULEPATH: ${tree})`;
    expect(statusOf(runDir)).toMatchObject({ phase: 'exited', message: expect.stringContaining(msg) });
    expect(run.output()).toContain(msg);
    expect(run.output()).not.toContain('ENV {');
  });

  it('names a missing dependency as such, and passes on what a failing modulefile says', async () => {
    const dep = writeRunDir(ws, envReporter(), { environment: modules({ load: ['needs/1'] }) });
    const r1 = runStartEnv(bundle, ws, dep.runDir, { MODULEPATH: '' });
    expect(await r1.exited).toBe(1);
    expect(statusOf(dep.runDir).message).toContain("modules.load: module 'missing/9' not found (needed by a module in modules.load)");

    const bad = writeRunDir(ws, envReporter(), { environment: modules({ load: ['bad/1'] }) });
    const r2 = runStartEnv(bundle, ws, bad.runDir, { MODULEPATH: '' });
    expect(await r2.exited).toBe(1);
    expect(statusOf(bad.runDir).message).toContain('modules.load: Lmod could not load bad/1: bad/1 refuses to load on this node');
  });

  it('checks modulePath and lmodCommand and says which key is wrong', async () => {
    const noDir = writeRunDir(ws, envReporter(), { environment: { modules: { modulePath: ['/nonexistent/modules'], load: ['foo/1.0'] } } });
    const r1 = runStartEnv(bundle, ws, noDir.runDir);
    expect(await r1.exited).toBe(1);
    expect(statusOf(noDir.runDir).message).toContain('modules.modulePath: /nonexistent/modules does not exist (environment "sw" in hpc-wrap.yaml)');

    const noLmod = writeRunDir(ws, envReporter(), { environment: modules({ load: ['foo/1.0'], lmodCommand: ['/nonexistent/lmod'] }) });
    const r2 = runStartEnv(bundle, ws, noLmod.runDir);
    expect(await r2.exited).toBe(1);
    expect(statusOf(noLmod.runDir).message).toMatch(/modules\.lmodCommand: cannot run \/nonexistent\/lmod: .*ENOENT/);
  });

  it('uses $LMOD_CMD of the job when lmodCommand is not set', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['foo/1.0'] }) });
    const run = runStartEnv(bundle, ws, runDir, { LMOD_CMD: '/nonexistent/site/lmod' });
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toContain('modules.lmodCommand: cannot run /nonexistent/site/lmod');
  });

  it('purges first when asked: modules the job inherited are unloaded', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { environment: modules({ load: ['foo/1.0'], purge: true }) });
    // The job inherited bar/2 (as from a login shell): purge unloads it before foo/1.0 loads.
    const inherited = runStartEnv(bundle, ws, writeRunDir(ws, envReporter(), { environment: modules({ load: ['bar/2'] }) }).runDir, { MODULEPATH: '' });
    expect(await inherited.exited).toBe(0);
    const jobEnv = Object.fromEntries(Object.entries(reportedEnv(inherited.output()).env).filter(([k]) => !k.startsWith('JUPYTERHUB_')));
    const run = runStartEnv(bundle, ws, runDir, jobEnv);
    expect(await run.exited, run.output()).toBe(0);
    const { env } = reportedEnv(run.output());
    expect(env.LOADEDMODULES).toBe('foo/1.0');
    expect(env.MANPATH ?? '').not.toContain('/opt/bar/man');
    expect(env.BAR).toBeUndefined();
  });
});
