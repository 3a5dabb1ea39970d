// The overlay step: makes the user's overlay image usable and hands it to the container
// step (ctx.overlay). It runs here, in start-env on the compute node, not in startjob on
// the login node: the check must come right before the mount and under the same lease
// that covers the mount (a queued job may start hours after submit, while another
// session still has the image mounted), and a multi-GiB fsck must not hold up the hub's
// spawn request. startjob only decides the path (job.json `overlay`) and makes the
// directory, so a wrong location still fails at submit time.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureOverlayImage } from '../overlay/overlay-image.js';
import { tryAcquireLease, type OverlayLease } from '../overlay/overlay-lease.js';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';

const leases = new WeakMap<EnvironmentContext, OverlayLease>();

function checkSharedImage(image: string): void {
  let st;
  try {
    st = statSync(image);
  } catch (err) {
    throw new Error(`the shared overlay image ${image} (overlays.specImage in hpc-wrap.yaml) cannot be used: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new Error(`the shared overlay image ${image} (overlays.specImage in hpc-wrap.yaml) is not a regular file`);
}

export const overlayStep: EnvironmentStep = {
  name: 'overlay',
  async prepare(ctx) {
    const plan = ctx.job.overlay;
    if (!plan) return;
    if (plan.mode === 'spec') {
      // Shared and read-only: the admin owns it; never checked-and-replaced by a session.
      checkSharedImage(plan.image);
      ctx.overlay = { path: plan.image, readOnly: true };
      return;
    }
    mkdirSync(dirname(plan.image), { recursive: true, mode: 0o711 }); // startjob made it; a node may see a fresh file system
    const taken = tryAcquireLease(`${plan.image}.lease`, { sessionId: ctx.job.sessionId });
    if (taken.kind === 'busy') {
      const who = taken.owner ? `session ${taken.owner.sessionId} on ${taken.owner.host}` : 'another session';
      if (plan.whenInUse === 'fail') {
        throw new Error(`your overlay image is in use by ${who}; stop that server first (an ext3 overlay cannot be mounted twice)`);
      }
      ctx.notice(`Your overlay image is in use by ${who}, so this server runs without it: software you install here is not kept.`);
      return;
    }
    leases.set(ctx, taken.lease);
    taken.lease.startHeartbeat();
    let outcome;
    try {
      outcome = await ensureOverlayImage(plan.image, plan);
    } catch (err) {
      // A failed step is not torn down by the pipeline: give the lease back here.
      taken.lease.release();
      leases.delete(ctx);
      throw err;
    }
    if (outcome.kind === 'created') ctx.say(`created the overlay image ${plan.image} (${plan.sizeMiB} MiB, sparse)`);
    if (outcome.kind === 'repaired') ctx.say(`the overlay image ${plan.image} failed its check and was repaired (fsck -p)`);
    if (outcome.kind === 'recreated') {
      ctx.say(`the overlay image check failed: ${outcome.why}`);
      ctx.log.warn('overlay.recreated', { user: ctx.job.user, image: plan.image, keptAs: outcome.keptAs });
      ctx.notice(`Your overlay image was damaged and has been recreated (empty); the old one is kept as ${outcome.keptAs}.`);
    }
    ctx.overlay = { path: plan.image, readOnly: false };
  },
  async teardown(ctx) {
    leases.get(ctx)?.release();
    leases.delete(ctx);
  },
};
