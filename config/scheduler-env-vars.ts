// The environment variables each batch system's client commands read to find their
// server (what a login shell or a module usually sets). Named by the wizard, which offers
// the ones set in the operator's shell, and by both doctors when a scheduler does not answer.
export const SCHEDULER_ENV_VARS: Readonly<Record<string, readonly string[]>> = {
  slurm: ['SLURM_CONF'],
  gridengine: ['SGE_ROOT', 'SGE_CELL', 'SGE_QMASTER_PORT'],
  pbspro: ['PBS_SERVER', 'PBS_CONF_FILE'],
  torque: ['PBS_DEFAULT', 'PBS_SERVER'],
};

/** The sentence both doctors give when the scheduler does not answer. */
export function schedulerEnvHint(kind: string): string {
  const vars = SCHEDULER_ENV_VARS[kind];
  return `if the scheduler commands need environment that a login shell would set${vars ? ` (e.g. ${vars.join(', ')})` : ''}, give it as scheduler.env in hpc-wrap.yaml`;
}

/**
 * The one line of a program's error output that says what went wrong: Node's "Error: ..."
 * line under its stack, a "fatal:" line under a client's chatter, else the last line.
 */
export function mainErrorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? [...lines].reverse().find((l) => /\bfatal\b/i.test(l)) ?? lines.at(-1) ?? '';
}
