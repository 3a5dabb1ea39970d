// hpc-wrap's entry when run from source (tsx) or as a plain ESM bundle. The release
// bundle (scripts/hpc-wrap-bundle.mjs) runs cli-main.ts through the code-cache loader
// (code-cache-loader.ts) instead.
import { main } from './cli-main.js';

await main();
