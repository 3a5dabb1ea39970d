// The end-to-end suite on a real Grid Engine (the harness' sge_qmaster + sge_execd) with the
// local transport: spawn with progress, the failure message of a dying job, a qmaster
// outage, a queued spawn's position and reason, stop, doctor. The bridge restart and
// maintenance mode do not depend on the scheduler and run on Slurm only.
import { defineEndToEnd } from './e2e-suite.js';

defineEndToEnd({ transport: 'local', tunnel: false, scheduler: 'gridengine' });
