// Sorts a failed spawn into one of a few causes (a bounded label for
// hpc_bridge_spawn_failures_total). The job's own report decides: the scheduler's reason,
// then which start-env step's message ended the server (the messages are ours:
// hpc-wrappers/start-env/tunnel-agent.ts, tunnel-client.ts and port-report-step.ts).
import type { FailureInfo } from '../sessions/lifecycle-observer.js';

export const FAILURE_CAUSES = [
  'scheduler_refused',
  'hpc_wrap_refused',
  'maintenance',
  'transport',
  'bridge_restart',
  'died_at_start',
  'timeout',
  'port_report',
  'tunnel',
  'other',
] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

const TIME_LIMIT = /^(TimeLimit|TIMEOUT|DEADLINE)$|time ?limit|deadline/i;
const TUNNEL = /\btunnel\b/i;
const PORT_REPORT = /report(ing)? (the )?port|could not report port|JUPYTERHUB_API_URL is not set|JUPYTERHUB_API_TOKEN is not set|the hub did not take the port/i;

export function failureCause(info: FailureInfo): FailureCause {
  const st = info.status;
  if (!st) {
    switch (info.reason) {
      case 'scheduler':
        return 'scheduler_refused';
      case 'maintenance':
        return 'maintenance';
      case 'invalid':
        return 'hpc_wrap_refused';
      case 'transport':
      case 'unreachable':
        return 'transport';
      case 'restart':
        return 'bridge_restart';
      default:
        return 'other';
    }
  }
  if (st.reason && TIME_LIMIT.test(st.reason)) return 'timeout';
  const said = st.server?.phase === 'exited' ? (st.server.message ?? '') : '';
  if (TUNNEL.test(said)) return 'tunnel';
  if (PORT_REPORT.test(said)) return 'port_report';
  return 'died_at_start';
}
