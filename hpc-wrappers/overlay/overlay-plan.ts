// Which overlay image a session uses, decided by startjob on the login node from
// hpc-wrap.yaml `overlays` and frozen in job.json; start-env on the node carries it out
// (creates, checks, mounts). The config schema already refused paths that Singularity's
// `--overlay` grammar (a comma-separated list with a `:ro` suffix) cannot carry.
import { join } from 'node:path';
import { z } from 'zod';
import type { HpcWrapConfig } from '../../config/schema.js';
import { escapeName } from '../../contract/names.js';

export const overlayPlanSchema = z.object({
  /** auto: the user's own image, created on first use, mounted writable; spec: one shared image, read-only. */
  mode: z.enum(['auto', 'spec']),
  image: z.string().min(2),
  sizeMiB: z.number().int().min(1),
  mkfs: z.array(z.string().min(1)).min(1),
  fsck: z.array(z.string().min(1)).min(1),
  repair: z.boolean(),
  whenInUse: z.enum(['without', 'fail']),
});
export type OverlayPlan = z.infer<typeof overlayPlanSchema>;

/** The directory auto-mode images live in: overlays.location, else <workDir>/overlays. */
export function overlayLocation(cfg: Pick<HpcWrapConfig, 'workDir' | 'overlays'>): string {
  return cfg.overlays.location ?? join(cfg.workDir, 'overlays');
}

/** The overlay a user's session uses, or null when overlays are off or the environment has no container. */
export function planOverlay(cfg: Pick<HpcWrapConfig, 'workDir' | 'overlays'>, user: string, containerWantsOverlay: boolean): OverlayPlan | null {
  const o = cfg.overlays;
  if (!o.enabled || !containerWantsOverlay) return null;
  const image = o.mode === 'spec' ? o.specImage! : join(overlayLocation(cfg), `${escapeName(user)}.img`);
  return { mode: o.mode, image, sizeMiB: o.sizeMiB, mkfs: o.mkfs, fsck: o.fsck, repair: o.repair, whenInUse: o.whenInUse };
}
