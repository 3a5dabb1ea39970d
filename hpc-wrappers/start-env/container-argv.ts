// The Singularity/Apptainer command line, built as an argv array (no shell ever sees it):
//
//   <runtime> exec [--nv|--rocm] [--home SRC:DST --pwd DST] [--no-mount a,b]
//                  [--bind SRC:DST:ro|rw]... [--overlay IMG[:ro]] [--cleanenv] [extra...]
//                  <image> <server argv...>
//
// Flags as documented for `singularity exec` / `apptainer exec` (Apptainer
// cmd/internal/cli/action_flags.go; `apptainer exec --help`): --bind takes
// `src[:dest[:opts]]` with opts ro|rw and splits its value on ',' (several binds);
// --home takes `src[:dest]`; --overlay takes a path with an optional `:ro` suffix and is
// a comma-separated list; --no-mount takes a comma-separated list; --pwd sets the working
// directory inside; everything after the image is the command. So a path with ',' or ':'
// cannot be expressed and is refused here; spaces and shell metacharacters are harmless
// (each value is ONE argv element).
//
// Secrets never go here: the server's environment reaches the container through the
// runtime's own environment (inherited, or SINGULARITYENV_/APPTAINERENV_ with --cleanenv).

export type GpuSupport = 'none' | 'nv' | 'rocm';

export interface ContainerBind {
  source: string;
  target: string;
  mode: 'ro' | 'rw';
}

export interface ContainerInvocation {
  runtime: readonly string[];
  image: string;
  gpu: GpuSupport;
  /** The per-user home on the node and where it appears inside. */
  home: { source: string; target: string } | null;
  noMount: readonly string[];
  binds: readonly ContainerBind[];
  overlay: { path: string; readOnly: boolean } | null;
  cleanEnv: boolean;
  extraArgs: readonly string[];
  command: readonly string[];
}

export class ContainerArgvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerArgvError';
  }
}

/** Throws when `p` cannot be one part of a --bind/--home/--overlay value. */
export function checkMountPart(p: string, what: string): void {
  if (!p.startsWith('/')) throw new ContainerArgvError(`${what} ${JSON.stringify(p)} must be an absolute path`);
  if (/[,:]/.test(p)) {
    throw new ContainerArgvError(`${what} ${JSON.stringify(p)} contains ',' or ':', which Singularity/Apptainer cannot mount (they split --bind, --home and --overlay values on them); rename or move it`);
  }
  if (/[\0\n\r]/.test(p)) throw new ContainerArgvError(`${what} must not contain NUL or line breaks`);
}

export function buildContainerArgv(inv: ContainerInvocation): string[] {
  if (inv.runtime.length === 0) throw new ContainerArgvError('the container runtime argv is empty');
  if (inv.command.length === 0) throw new ContainerArgvError('there is no command to run in the container');
  if (!inv.image || inv.image.startsWith('-')) throw new ContainerArgvError(`the container image ${JSON.stringify(inv.image)} is not valid`);
  const argv = [...inv.runtime, 'exec'];
  if (inv.gpu === 'nv') argv.push('--nv');
  if (inv.gpu === 'rocm') argv.push('--rocm');
  if (inv.home) {
    checkMountPart(inv.home.source, 'the per-user home');
    checkMountPart(inv.home.target, 'the home inside the container (container.home)');
    if (inv.home.source === inv.home.target) {
      argv.push('--home', inv.home.source);
    } else {
      argv.push('--home', `${inv.home.source}:${inv.home.target}`, '--pwd', inv.home.target);
    }
  }
  if (inv.noMount.length) {
    for (const m of inv.noMount) if (!m || /[,\0\n\r]/.test(m)) throw new ContainerArgvError(`container.noMount item ${JSON.stringify(m)} is not valid (one name or path, no commas)`);
    argv.push('--no-mount', inv.noMount.join(','));
  }
  for (const b of inv.binds) {
    checkMountPart(b.source, 'bind source');
    checkMountPart(b.target, 'bind target');
    argv.push('--bind', `${b.source}:${b.target}:${b.mode}`);
  }
  if (inv.overlay) {
    checkMountPart(inv.overlay.path, 'the overlay image');
    argv.push('--overlay', inv.overlay.readOnly ? `${inv.overlay.path}:ro` : inv.overlay.path);
  }
  if (inv.cleanEnv) argv.push('--cleanenv');
  argv.push(...inv.extraArgs, inv.image, ...inv.command);
  return argv;
}

/** The prefix that hands a variable into a --cleanenv container: APPTAINERENV_ for apptainer, else SINGULARITYENV_ (which Apptainer also reads). */
export function containerEnvPrefix(runtime: readonly string[]): string {
  const bin = (runtime[0] ?? '').split('/').pop() ?? '';
  return /apptainer/i.test(bin) ? 'APPTAINERENV_' : 'SINGULARITYENV_';
}
