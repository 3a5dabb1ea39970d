// identity "sudo" (both transports): a command the bridge runs FOR a hub user (startjob,
// killjob) runs as that user's own account, through one sudoers line:
//   [...sudoCommand, USER, '--', ...argv]   (default: sudo -n -u USER -- hpc-wrap ...)
// e.g. for a service account `hpcsvc`, students in group `jupyter` and hpc-wrap at
// /opt/hpc-wrap/hpc-wrap:   hpcsvc ALL=(%jupyter) NOPASSWD: /opt/hpc-wrap/hpc-wrap
// (sudo resets PATH to its secure_path, so cluster.hpcWrap must start with an absolute path).
// Everything else (the one status call, marked-jobs, doctor) runs as the service account.
import { validateUsername } from '../../contract/names.js';

export type Identity = 'shared' | 'sudo';

export function identityArgv(identity: Identity, sudoCommand: readonly string[], argv: readonly string[], asUser: string | undefined): readonly string[] {
  if (asUser === undefined) return argv;
  const user = validateUsername(asUser);
  if (identity !== 'sudo') return argv;
  return [...sudoCommand, user, '--', ...argv];
}
