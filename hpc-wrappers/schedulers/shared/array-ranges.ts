// Array-task range specs, as the schedulers print them for a pending array: a comma list
// of `N`, `LO-HI` or `LO-HI:STEP`, with Slurm's optional `%LIMIT` at the end
// (Slurm `0-5,7%2`, Grid Engine `1-4:1` or `2,3`, PBS/Torque `1-5`, `1,3,5-7`).
// One parser for all of them; each dialect says where the spec sits in its output.

interface Part {
  lo: number;
  hi: number;
  step: number;
}

function parts(spec: string): Part[] | null {
  const out: Part[] = [];
  for (const part of (spec.split('%')[0] ?? '').split(',')) {
    const r = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!r) return null;
    const lo = Number(r[1]);
    out.push({ lo, hi: r[2] === undefined ? lo : Number(r[2]), step: r[3] === undefined ? 1 : Math.max(1, Number(r[3])) });
  }
  return out;
}

/** How many tasks a spec stands for (`0-5,7%2` → 7); 1 for anything unreadable. */
export function arrayTaskCount(spec: string): number {
  const ps = parts(spec);
  if (!ps) return 1;
  const n = ps.reduce((sum, p) => sum + (p.hi >= p.lo ? Math.floor((p.hi - p.lo) / p.step) + 1 : 0), 0);
  return Math.max(1, n);
}

/** True when task number `task` lies in the spec. */
export function inArrayRange(spec: string, task: number): boolean {
  return (parts(spec) ?? []).some((p) => task >= p.lo && task <= p.hi && (task - p.lo) % p.step === 0);
}
