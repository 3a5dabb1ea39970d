// Pre-flight of the software environment: everything that can be checked without doing
// slow work (module path directories, the conda files, the environment.yml's syntax, the
// WebDAV URL and credentials) is checked before the first slow step (a mount, `module
// load`, unpacking or creating a conda env) runs. Every message starts with the config
// key at fault (e.g. `conda.pack: /x/env.tar.gz does not exist`); start-env puts it in
// status.json, where the bridge shows it.
import { checkCondaFiles } from './conda-step.js';
import { preflightModules } from './modules-step.js';
import type { EnvironmentStep } from './steps.js';
import { resolveWebdavUrl } from '../webdav-target.js';

export const environmentPreflightStep: EnvironmentStep = {
  name: 'pre-flight',
  async prepare(ctx) {
    const env = ctx.job.environment;
    if (env) {
      const where = ` (environment "${env.name}" in hpc-wrap.yaml)`;
      try {
        if (env.spec.modules) preflightModules(env.spec.modules);
        if (env.spec.conda) checkCondaFiles(env.spec.conda);
      } catch (err) {
        throw new Error(`${(err as Error).message}${where}`);
      }
    }
    const webdav = ctx.job.webdav;
    if (webdav?.enabled && ctx.webdavCredentials) resolveWebdavUrl(webdav, ctx.webdavCredentials.url, ctx.job.user);
  },
};
