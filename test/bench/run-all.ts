// `npm run bench`: every benchmark, figures printed side by side. Not a test: nothing here
// passes or fails on timing.
import { apiLatency } from './api-latency.js';
import { manySessions } from './many-sessions.js';
import { queuedPolling } from './queued-polling.js';
import { foreignJobs } from './foreign-jobs.js';
import { batchspawnerQuery } from './batchspawner-query.js';
import { metricsEndpoint } from './metrics-endpoint.js';
import { overlayCreate } from './overlay-create.js';
import { schedulerLoad } from './scheduler-load.js';
import { tunnelScale } from './tunnel-scale.js';
import { gatewayBench } from './gateway.js';
import { tunnelThroughput } from './tunnel-throughput.js';
import { startupCost } from './startup-cost.js';

await schedulerLoad();
await apiLatency();
await manySessions();
await queuedPolling();
if (process.getuid?.() === 0) await foreignJobs(); // real Slurm: root only
await metricsEndpoint();
await overlayCreate();
await batchspawnerQuery();
await tunnelThroughput();
await tunnelScale();
await gatewayBench();
await startupCost();
