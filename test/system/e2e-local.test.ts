// The end-to-end suite with the local transport: the bridge runs hpc-wrap as the service account.
import { defineEndToEnd } from './e2e-suite.js';

defineEndToEnd({ transport: 'local' });
