// hpc-wrap.yaml: the container runtime (Singularity / Apptainer) of a software environment.
// Owned by the container + overlay work (issue: the notebook's environment).
import { z } from 'zod';

export const containerSchema = z
  .object({
    image: z.string().min(1).describe('Path (or URI) of the image to run the server in.'),
  })
  .strict()
  .describe('Run the server inside a Singularity/Apptainer container.');
export type ContainerSpec = z.infer<typeof containerSchema>;
