// How helper output (Lmod, conda) reaches the server's env: the helpers never see the
// hub's variables, and a list the hub had set (PATH) is edited, not replaced.
import { describe, expect, it } from 'vitest';
import { applyEnvChanges, helperEnv } from '../../../hpc-wrappers/start-env/env-changes.js';

describe('env changes', () => {
  it("helpers get the server env without the hub's values (the job's own value instead)", () => {
    const env = { PATH: '/hub/bin:/usr/bin', JUPYTERHUB_API_TOKEN: 't', LANG: 'C', MINE: 'x', JPY_API_TOKEN: 't' };
    const hubEnv = { PATH: '/hub/bin:/usr/bin', JUPYTERHUB_API_TOKEN: 't', JPY_API_TOKEN: 't' };
    const h = helperEnv({ env, hubEnv });
    expect(h.JUPYTERHUB_API_TOKEN).toBeUndefined();
    expect(h.JPY_API_TOKEN).toBeUndefined();
    expect(h.PATH).toBe(process.env.PATH);
    expect(h).toMatchObject({ LANG: 'C', MINE: 'x' });
  });

  it('rebases prepends/appends onto the server value, also when the helper dropped duplicates', () => {
    const ctx = { env: { PATH: '/hub/bin:/a:/a:/b', X: 'hub' } };
    const base = { PATH: '/a:/b:/a', X: 'job' };
    applyEnvChanges(ctx, base, [
      { name: 'PATH', value: '/mod/bin:/a:/b:/mod/tail' },
      { name: 'X', value: 'module' },
    ]);
    expect(ctx.env.PATH).toBe('/mod/bin:/hub/bin:/a:/a:/b:/mod/tail');
    expect(ctx.env.X).toBe('module');
  });

  it('refuses reserved names and NUL, unsets others', () => {
    const ctx = { env: { JUPYTERHUB_API_TOKEN: 't', GONE: '1' } as Record<string, string> };
    const refused = applyEnvChanges(ctx, {}, [
      { name: 'JUPYTERHUB_API_TOKEN', value: 'evil' },
      { name: 'HPC_WRAP_RUN_DIR', value: '/x' },
      { name: 'BIN', value: 'a\0b' },
      { name: 'GONE', value: null },
    ]);
    expect(refused).toEqual(['JUPYTERHUB_API_TOKEN', 'HPC_WRAP_RUN_DIR', 'BIN']);
    expect(ctx.env).toEqual({ JUPYTERHUB_API_TOKEN: 't' });
  });
});
