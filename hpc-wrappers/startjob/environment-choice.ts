// Which software environment a startjob request runs in, decided on the login node and
// frozen in job.json: the name (request `environment`, else `defaultEnvironment`), its
// spec from hpc-wrap.yaml, the GPUs asked for (the container step picks image and --nv
// from them) and the user's overlay plan. An unknown name is the caller's mistake (exit 2).
import type { HpcWrapConfig } from '../../config/schema.js';
import { WrapError } from '../errors.js';
import { ensureDir } from '../layout.js';
import { overlayLocation, planOverlay } from '../overlay/overlay-plan.js';
import type { JobDescription } from './job-description.js';
import type { StartJobRequest } from '../../contract/startjob.js';

export type EnvironmentChoice = Pick<JobDescription, 'environment' | 'gpus' | 'overlay'>;

export function chooseEnvironment(cfg: HpcWrapConfig, req: Pick<StartJobRequest, 'environment' | 'resources' | 'script' | 'user'>): EnvironmentChoice {
  const name = req.environment ?? cfg.defaultEnvironment;
  let environment: JobDescription['environment'] = null;
  if (name !== null) {
    const spec = Object.hasOwn(cfg.environments, name) ? cfg.environments[name] : undefined;
    if (!spec) {
      const known = Object.keys(cfg.environments);
      throw new WrapError(
        'invalid',
        `environment: "${name}" is not an environment of this cluster; known environments (hpc-wrap.yaml \`environments\`): ${known.length ? known.join(', ') : 'none defined'}`,
      );
    }
    environment = { name, spec };
  }
  // A ready batch script may ask for GPUs itself: unknown here (start-env looks at the job's env).
  const gpus = req.script ? null : (req.resources?.gpus ?? 0);
  const overlay = planOverlay(cfg, req.user, Boolean(environment?.spec.container?.overlay));
  return { environment, gpus, overlay };
}

/** Makes the overlay directory at submit time, so a wrong `overlays.location` fails before the job queues. */
export function prepareOverlayDirectory(cfg: HpcWrapConfig, choice: EnvironmentChoice): void {
  if (choice.overlay?.mode !== 'auto') return;
  try {
    ensureDir(overlayLocation(cfg), 0o711, { enforce: false });
  } catch (err) {
    throw new WrapError('internal', `cannot make the overlay directory (overlays.location in hpc-wrap.yaml): ${(err as Error).message}`);
  }
}
