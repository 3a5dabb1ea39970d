// process_open_fds without listing /proc/self/fd. prom-client's default collector reads the
// whole directory at every scrape: with 1,000 live sessions the bridge holds a few thousand
// descriptors (each session's hub-side tunnel port and its agent's SSH connection), and
// listing 3,000 of them cost ~1.6 ms per scrape here, more than the rest of /metrics.
// Linux ≥ 6.2 gives the count as the size of /proc/self/fd (one stat); older kernels say 0
// there, and then the directory is listed as before. Same name, help and value as
// prom-client's gauge, which this replaces.
import { readdirSync, statSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

const NAME = 'process_open_fds';

/** How many descriptors this process has open (null: not on Linux / no /proc). */
export function openFds(): number | null {
  try {
    const size = statSync('/proc/self/fd').size;
    // a process always holds some (stdin, the database...): 0 means the kernel does not count here
    if (size > 0) return size;
    return readdirSync('/proc/self/fd').length - 1; // minus the one readdir itself opened
  } catch {
    return null;
  }
}

/** Replaces prom-client's process_open_fds (registered by collectDefaultMetrics on Linux). */
export function replaceOpenFdsGauge(registry: Registry): void {
  const theirs = registry.getSingleMetric(NAME) as unknown as { help?: string } | undefined;
  if (!theirs) return; // not Linux: prom-client has none either
  registry.removeSingleMetric(NAME);
  new Gauge({
    name: NAME,
    help: theirs.help ?? 'Number of open file descriptors.',
    registers: [registry],
    collect() {
      const n = openFds();
      if (n !== null) this.set(n);
    },
  });
}
