// resources.walltime is written as Slurm reads it (the schema's format); other schedulers
// want seconds or HH:MM:SS. Slurm's forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.

export function walltimeSeconds(walltime: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(walltime.trim());
  if (!m) throw new Error(`"${walltime}" is not a wall time (01:00:00, 90, 1-00:00:00)`);
  const [days, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (days !== undefined) return days * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
  if (c !== undefined) return a! * 3600 + b! * 60 + c;
  if (b !== undefined) return a! * 60 + b;
  return a! * 60;
}

/** Seconds as HH:MM:SS (hours may exceed 24), the form PBS, Torque and Grid Engine read. */
export function hhmmss(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}
