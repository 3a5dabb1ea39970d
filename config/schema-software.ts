// hpc-wrap.yaml: environment modules, conda and scratch of a software environment. Owned by
// the modules/conda/WebDAV work (issue: the notebook's environment). Implemented by
// hpc-wrappers/start-env/modules-step.ts and conda-step.ts.
import { z } from 'zod';

const noControl = (s: string) => !/[\0-\x1f\x7f]/.test(s);

const absolutePath = z
  .string()
  .min(2)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(noControl, 'must not contain NUL, line breaks or other control characters');

const argv = z
  .array(z.string().min(1).refine((s) => !s.includes('\0'), 'must not contain NUL'))
  .min(1);

/** A module name as `module load` takes it: gcc/12.2.0, py-numpy/1.24, intel-oneapi-mkl/2023.1.0. */
export const moduleName = z
  .string()
  .regex(/^[A-Za-z0-9_.+@:][A-Za-z0-9_.+@:\/-]{0,199}$/, 'a module name such as gcc/12.2.0 (letters, digits, _ . + @ : / -, not starting with - or /)');

export const modulesSchema = z
  .object({
    load: z.array(moduleName).default([]).describe('Modules to load, in order (like `module load A B`); a module that cannot be found fails the spawn and is named.'),
    modulePath: z
      .array(absolutePath)
      .default([])
      .describe('Directories appended to MODULEPATH before loading (galyleo --append-modulepath), e.g. a site or project module tree.'),
    lmodCommand: argv
      .nullable()
      .default(null)
      .describe(
        "Lmod's command (argv); hpc-wrap appends `python load ...` and parses the output, no shell is involved. null = $LMOD_CMD of the job, else /usr/share/lmod/lmod/libexec/lmod (Debian/Ubuntu; EL: /usr/share/lmod/lmod/libexec/lmod too).",
      ),
    purge: z.boolean().default(false).describe('Run `module purge` first, so only the listed modules are loaded (the modules the job inherited are unloaded).'),
    timeoutSeconds: z.number().min(1).max(600).default(60).describe('An Lmod call that takes longer is killed and the spawn fails.'),
  })
  .strict()
  .describe('Environment modules (Lmod) loaded before the server starts.');
export type ModulesSpec = z.infer<typeof modulesSchema>;

export const condaSchema = z
  .object({
    env: z
      .string()
      .min(1)
      .max(4096)
      .refine(noControl, 'must not contain control characters')
      .refine((s) => !s.startsWith('-'), 'must not start with "-"')
      .nullable()
      .default(null)
      .describe(
        'An existing environment to activate: its name (needs conda: `init` or conda on PATH) or its absolute path (a prefix; activated without conda when conda is not usable). With pack or yml: only the name shown as CONDA_DEFAULT_ENV.',
      ),
    init: absolutePath
      .nullable()
      .default(null)
      .describe(
        "The conda installation to use (galyleo --conda-init): its directory or its etc/profile.d/conda.sh; hpc-wrap runs its bin/conda (never sources the script). null = the `conda` on the job's PATH or $CONDA_EXE.",
      ),
    pack: absolutePath
      .nullable()
      .default(null)
      .describe(
        'A conda-pack tarball (.tar.gz / .tgz / .tar / .tar.zst): unpacked into node-local scratch, its bin/conda-unpack run once, then activated by prefix (no conda needed).',
      ),
    yml: absolutePath
      .nullable()
      .default(null)
      .describe('An environment.yml: checked when the job starts, then created in node-local scratch with `conda env create --prefix <scratch>/env --file <yml>` and activated.'),
    useMamba: z.boolean().default(false).describe('Create the yml environment with `mamba` (next to conda, or on PATH) instead of conda.'),
    scratch: absolutePath
      .nullable()
      .default(null)
      .describe('Node-local scratch directory (galyleo --scratch-dir); a per-job directory (mode 0700) is made in it. null = $TMPDIR of the job, else /tmp.'),
    keepScratch: z.boolean().default(false).describe('Keep the per-job scratch directory when the server ends (default: removed).'),
    cacheDir: absolutePath
      .nullish()
      .describe(
        'With yml (galyleo --cache): keep the created environment as a conda-pack tarball in this directory, keyed by the yml\'s content, and unpack it next time instead of creating it again. Needs conda-pack in the environment or `conda pack`.',
      ),
    timeoutSeconds: z
      .number()
      .min(1)
      .max(24 * 3600)
      .default(1800)
      .describe('Time allowed for creating (yml) or unpacking (pack) the environment; longer fails the spawn.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.pack !== null && c.yml !== null) ctx.addIssue({ code: 'custom', path: ['yml'], message: 'give either pack or yml, not both' });
    if (c.cacheDir != null && c.yml === null) ctx.addIssue({ code: 'custom', path: ['cacheDir'], message: 'only with yml (it caches the environment made from it)' });
    if (c.env === null && c.pack === null && c.yml === null) {
      ctx.addIssue({ code: 'custom', path: ['env'], message: 'one of env, pack or yml is required' });
    }
  })
  .describe('A conda environment for the server (galyleo --conda-env / --conda-init / --conda-pack / --conda-yml).');
export type CondaSpec = z.infer<typeof condaSchema>;
