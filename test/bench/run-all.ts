// `npm run bench`: every benchmark, figures printed side by side. Not a test: nothing here
// passes or fails on timing.
import { apiLatency } from './api-latency.js';
import { schedulerLoad } from './scheduler-load.js';

await schedulerLoad();
await apiLatency();
