// The end-to-end suite with the local transport: the bridge runs hpc-wrap as the service
// account, and the hub reaches each notebook where start-env says it listens.
import { defineEndToEnd } from './e2e-suite.js';

defineEndToEnd({ transport: 'local', tunnel: false });
