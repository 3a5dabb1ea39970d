// hpc-wrap.yaml: the container runtime (Singularity / Apptainer) of a software environment.
// Owned by the container + overlay work (issue: the notebook's environment).
//
// Paths that end up in `--bind`, `--home` or `--overlay` must survive the runtime's own
// grammar: those values are split on ',' (lists) and ':' (src:dst:opts), so such paths
// are refused here instead of being silently mis-mounted on the node.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

const noNul = (s: string) => !/[\0\n\r]/.test(s);

/** An absolute path usable as a --bind / --home / --overlay part. */
export const mountPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !/[,:]/.test(p), "must not contain ',' or ':' (Singularity/Apptainer split --bind, --home and --overlay values on them)")
  .refine(noNul, 'must not contain NUL or line breaks');

const URI_RE = /^(docker|docker-archive|docker-daemon|oci|oci-archive|library|oras|shub|https?):\/\//;

/** True for an image given as a URI (pulled by the runtime) rather than a file. */
export function isImageUri(image: string): boolean {
  return URI_RE.test(image);
}

const imageRef = z
  .string()
  .min(1)
  .refine(noNul, 'must not contain NUL or line breaks')
  .refine((s) => !s.startsWith('-'), 'must not start with "-" (it would be read as an option)');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');

export const bindSchema = z
  .object({
    source: mountPath.describe('Path on the compute node (it must exist when the server starts), e.g. an nbgrader exchange directory.'),
    target: mountPath.nullable().default(null).describe('Where it appears inside the container; null = at the same path.'),
    mode: z.enum(['ro', 'rw']).default('ro').describe('ro (read-only) or rw (read-write).'),
  })
  .strict();
export type BindSpec = z.infer<typeof bindSchema>;

export const containerSchema = z
  .object({
    runtime: z
      .array(z.string().min(1).refine(noNul, 'must not contain NUL'))
      .min(1)
      .default(['singularity'])
      .describe('The runtime binary as an argv array: ["singularity"], ["apptainer"] or an absolute path; hpc-wrap appends `exec` and the options.'),
    loadModules: z
      .array(z.string().min(1).regex(/^[A-Za-z0-9_.+\/-]+$/, 'a module name such as singularity or apptainer/1.3'))
      .default([])
      .describe('Environment modules that provide the runtime (e.g. ["singularity"]), loaded on the node before it is looked up.'),
    image: imageRef.describe('The image for jobs without GPUs: a .sif path (relative to the config file) or a URI (docker://, library://, oras://).'),
    gpuImage: imageRef
      .nullable()
      .default(null)
      .describe('The image for jobs that asked for GPUs (resources.gpus > 0); null = `image` for every job.'),
    gpu: z
      .enum(['none', 'nv', 'rocm'])
      .default('nv')
      .describe('GPU support passed to the runtime for GPU jobs: nv (--nv, NVIDIA), rocm (--rocm, AMD) or none.'),
    gpuWhen: z
      .enum(['requested', 'always'])
      .default('requested')
      .describe('requested: add the GPU flag only when the job asked for GPUs; always: on every job of this environment.'),
    home: mountPath
      .nullable()
      .default(null)
      .describe('Where the per-user home appears inside the container (--home <home>:<this>); null = at its path on the node.'),
    noMount: z
      .array(z.string().min(1).regex(/^[^,\0\n\r]+$/, 'one mount name or path per item (no commas)'))
      .default([])
      .describe('Mounts to skip (--no-mount a,b), e.g. ["hostfs", "cwd"] or an absolute destination path.'),
    extraBinds: z.array(bindSchema).default([]).describe('Further binds (--bind src:dst:mode), e.g. an nbgrader exchange directory.'),
    extraArgs: z
      .array(z.string().refine(noNul, 'must not contain NUL'))
      .default([])
      .describe('Further runtime options, one argv element each, placed before the image (e.g. ["--contain"]).'),
    cleanEnv: z
      .boolean()
      .default(false)
      .describe(
        'Start the container with --cleanenv; the hub variables, JUPYTERHUB_* and passEnv are then handed over as SINGULARITYENV_/APPTAINERENV_ variables in the environment (never in argv).',
      ),
    passEnv: z.array(envName).default([]).describe('With cleanEnv: further variables of the job to pass into the container (e.g. ["LANG", "TZ"]).'),
    overlay: z.boolean().default(true).describe("Mount the user's overlay image when `overlays.enabled` (false: this environment never uses it)."),
  })
  .strict()
  .describe('Run the server inside a Singularity/Apptainer container.');
export type ContainerSpec = z.infer<typeof containerSchema>;

/** Image paths relative to the config file's directory; URIs and absolute paths as given. */
export function resolveContainerPaths(spec: ContainerSpec, base: string): ContainerSpec {
  const abs = (p: string) => (isImageUri(p) || isAbsolute(p) ? p : resolve(base, p));
  return { ...spec, image: abs(spec.image), gpuImage: spec.gpuImage === null ? null : abs(spec.gpuImage) };
}
