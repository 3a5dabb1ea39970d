// hpc-wrap.yaml: named software environments. A hub profile picks one by name
// (profiles[].environment in hub-bridge.yaml); the startjob document carries the name.
import { z } from 'zod';
import { containerSchema } from './schema-container.js';
import { condaSchema, modulesSchema } from './schema-software.js';

export const environmentSchema = z
  .object({
    description: z.string().max(500).default('').describe('What this environment offers (shown in logs and docs).'),
    container: containerSchema.nullable().default(null).describe('Container to run the server in; null = on the node directly.'),
    modules: modulesSchema.nullable().default(null).describe('Environment modules to load before the server starts; null = none.'),
    conda: condaSchema.nullable().default(null).describe('Conda environment to activate; null = none.'),
  })
  .strict();
export type EnvironmentSpec = z.infer<typeof environmentSchema>;

export const environmentsSchema = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'environment names are letters, digits, _ . -'), environmentSchema)
  .default({})
  .describe('Named software environments (container, modules, conda) that hub profiles select by name.');
