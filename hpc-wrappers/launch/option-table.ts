// The options of `hpc-wrap launch` as data: galyleo's names and short forms (where they do
// not clash), the group `--help` shows them in, and what each becomes. The yargs builder,
// docs/launch.md's table (checked by a test) and the per-option tests all read this table.

export type OptionGroup = 'Scheduler options' | 'Jupyter options' | 'Software environment options' | 'Other options';

export interface LaunchOption {
  /** The long name, as typed: --<name>. */
  name: string;
  /** Further names (short forms and galyleo spellings). */
  aliases: string[];
  group: OptionGroup;
  type: 'string' | 'number' | 'boolean';
  /** May be given more than once (values are collected; comma lists are split). */
  repeatable?: boolean;
  choices?: readonly string[];
  /** What the user reads in --help. */
  describe: string;
  /** galyleo's spelling (null: ours only). */
  galyleo: string | null;
  /** What it turns into (docs/launch.md). */
  becomes: string;
}

export const LAUNCH_OPTIONS: readonly LaunchOption[] = [
  // Scheduler options
  { name: 'account', aliases: ['A'], group: 'Scheduler options', type: 'string', describe: 'account (allocation) to charge', galyleo: '-A, --account', becomes: 'sbatch --account=' },
  { name: 'reservation', aliases: ['R'], group: 'Scheduler options', type: 'string', describe: 'run in this reservation', galyleo: '-R, --reservation', becomes: 'sbatch --reservation=' },
  { name: 'partition', aliases: ['p'], group: 'Scheduler options', type: 'string', describe: 'partition (queue); default from hpc-wrap.yaml launch.defaults', galyleo: '-p, --partition', becomes: 'sbatch --partition=' },
  { name: 'qos', aliases: ['q'], group: 'Scheduler options', type: 'string', describe: 'quality of service', galyleo: '-q, --qos', becomes: 'sbatch --qos=' },
  { name: 'nodes', aliases: ['N'], group: 'Scheduler options', type: 'number', describe: 'nodes (Jupyter runs on the first)', galyleo: '-N, --nodes', becomes: 'sbatch --nodes=' },
  { name: 'ntasks-per-node', aliases: ['n'], group: 'Scheduler options', type: 'number', describe: 'tasks per node', galyleo: '-n, --ntasks-per-node', becomes: 'sbatch --ntasks-per-node=' },
  { name: 'cpus', aliases: ['c'], group: 'Scheduler options', type: 'number', describe: 'CPUs per task', galyleo: '-c, --cpus', becomes: 'sbatch --cpus-per-task=' },
  { name: 'memory', aliases: ['m', 'M'], group: 'Scheduler options', type: 'number', describe: 'memory in GB (fractions allowed: 0.5 = 512 MB)', galyleo: '-m, --memory', becomes: 'sbatch --mem=<MB>M' },
  { name: 'gpus', aliases: ['g', 'G'], group: 'Scheduler options', type: 'number', describe: 'GPUs', galyleo: '-g, --gpus', becomes: 'sbatch --gres=gpu:N' },
  { name: 'gres', aliases: [], group: 'Scheduler options', type: 'string', repeatable: true, describe: 'generic resources, e.g. gpu:p100:1 (comma list)', galyleo: '--gres', becomes: 'sbatch --gres=' },
  { name: 'time-limit', aliases: ['t'], group: 'Scheduler options', type: 'string', describe: 'wall time, e.g. 00:30:00', galyleo: '-t, --time-limit', becomes: 'sbatch --time=' },
  { name: 'constraint', aliases: ['C'], group: 'Scheduler options', type: 'string', repeatable: true, describe: 'node features (repeat: all of them)', galyleo: '-C, --constraint', becomes: 'sbatch --constraint= (repeats joined with &)' },
  // Jupyter options
  { name: 'jupyter', aliases: ['j', 'interface', 'i'], group: 'Jupyter options', type: 'string', choices: ['lab', 'notebook', 'voila'], describe: 'the interface: lab, notebook or voila', galyleo: '-j, --jupyter / -i, --interface', becomes: 'the server command (launch.jupyterCommand)' },
  { name: 'notebook-dir', aliases: ['d'], group: 'Jupyter options', type: 'string', describe: 'where Jupyter starts (default: your home)', galyleo: '-d, --notebook-dir', becomes: 'notebook_dir / root_dir in the server config file, and its cwd' },
  { name: 'scratch-dir', aliases: [], group: 'Jupyter options', type: 'string', describe: 'node-local scratch (conda environments are made there)', galyleo: '--scratch-dir', becomes: 'conda.scratch' },
  // Software environment options
  { name: 'env-modules', aliases: ['e'], group: 'Software environment options', type: 'string', repeatable: true, describe: 'modules to load, comma list (e.g. cpu,gcc,anaconda3)', galyleo: '-e, --env-modules', becomes: 'modules.load (Lmod, no shell)' },
  { name: 'append-modulepath', aliases: [], group: 'Software environment options', type: 'string', repeatable: true, describe: 'directories appended to MODULEPATH', galyleo: '--append-modulepath', becomes: 'modules.modulePath' },
  { name: 'sif', aliases: ['s'], group: 'Software environment options', type: 'string', describe: 'container image: a .sif file or docker://, library://, oras:// URI', galyleo: '-s, --sif', becomes: 'container.image: <runtime> exec ... IMAGE' },
  { name: 'bind', aliases: ['B'], group: 'Software environment options', type: 'string', repeatable: true, describe: 'container binds src[:dst[:ro|rw]], comma list', galyleo: '-B, --bind', becomes: 'container.extraBinds: --bind src:dst:mode' },
  { name: 'nv', aliases: [], group: 'Software environment options', type: 'boolean', describe: 'NVIDIA GPUs in the container', galyleo: '--nv', becomes: 'container.gpu nv: --nv' },
  { name: 'rocm', aliases: [], group: 'Software environment options', type: 'boolean', describe: 'AMD GPUs in the container', galyleo: '--rocm', becomes: 'container.gpu rocm: --rocm' },
  { name: 'conda-init', aliases: [], group: 'Software environment options', type: 'string', describe: "a conda installation (its dir or etc/profile.d/conda.sh); default: conda on PATH", galyleo: '--conda-init', becomes: 'conda.init (its bin/conda; never sourced)' },
  { name: 'conda-env', aliases: [], group: 'Software environment options', type: 'string', describe: 'conda environment to activate (name or path)', galyleo: '--conda-env', becomes: 'conda.env' },
  { name: 'conda-pack', aliases: [], group: 'Software environment options', type: 'string', describe: 'a conda-pack tarball, unpacked on node-local scratch', galyleo: '--conda-pack', becomes: 'conda.pack' },
  { name: 'conda-yml', aliases: [], group: 'Software environment options', type: 'string', describe: 'an environment.yml, created on node-local scratch when the job starts', galyleo: '--conda-yml', becomes: 'conda.yml' },
  { name: 'mamba', aliases: [], group: 'Software environment options', type: 'boolean', describe: 'create --conda-yml with mamba', galyleo: '--mamba', becomes: 'conda.useMamba' },
  { name: 'cache', aliases: [], group: 'Software environment options', type: 'boolean', describe: 'keep the --conda-yml environment as a conda-pack tarball for the next launch', galyleo: '--cache', becomes: 'conda.cacheDir = <stateDir>/conda-cache' },
  { name: 'environment', aliases: [], group: 'Software environment options', type: 'string', describe: 'a software environment the site defined (hpc-wrap.yaml environments) instead of the options above', galyleo: null, becomes: "the environment's spec" },
  // Other options
  { name: 'disable-checklist', aliases: [], group: 'Other options', type: 'boolean', describe: 'skip the pre-flight checks', galyleo: '--disable-checklist', becomes: 'no checks on the login node' },
  { name: 'checklist-timeout', aliases: [], group: 'Other options', type: 'number', describe: 'seconds allowed for each pre-flight check (default 10)', galyleo: '--checklist-timeout', becomes: 'the checks\' timeout' },
  { name: 'keep-alive', aliases: [], group: 'Other options', type: 'number', describe: 'resubmit up to N times when the session reaches its wall time', galyleo: null, becomes: 'a successor job (sbatch --dependency=afterany:<job>) before the wall time ends' },
  { name: 'quiet', aliases: ['Q'], group: 'Other options', type: 'boolean', describe: 'print only the URL (or errors)', galyleo: '-Q, --quiet', becomes: 'output' },
  { name: 'json', aliases: [], group: 'Other options', type: 'boolean', describe: 'print one JSON document', galyleo: null, becomes: 'output' },
];

/** galyleo options this launch does not take, and why (docs/launch.md). */
export const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  '--spark-home': 'Spark clusters inside the job are out of scope; start Spark from the notebook.',
  '--mode local': 'galyleo accepts it and ignores it.',
};

export function optionByName(name: string): LaunchOption | undefined {
  return LAUNCH_OPTIONS.find((o) => o.name === name);
}
