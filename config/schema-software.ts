// hpc-wrap.yaml: environment modules, conda and scratch of a software environment. Owned by
// the modules/conda/WebDAV work (issue: the notebook's environment).
import { z } from 'zod';

export const modulesSchema = z
  .object({
    load: z.array(z.string().min(1)).default([]).describe('Modules to load, in order (module load X).'),
  })
  .strict()
  .describe('Environment modules (Lmod / Tcl modules).');

export const condaSchema = z.object({}).strict().describe('A conda environment for the server.');
