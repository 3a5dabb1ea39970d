// Slurm's time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) as seconds: for the site's
// --time-limit limit and the keep-alive timer.
export function walltimeSeconds(t: string): number {
  const dash = t.indexOf('-');
  const days = dash >= 0 ? Number(t.slice(0, dash)) : 0;
  const parts = (dash >= 0 ? t.slice(dash + 1) : t).split(':').map(Number);
  let s: number;
  if (dash >= 0) {
    const [h = 0, m = 0, sec = 0] = parts;
    s = h * 3600 + m * 60 + sec;
  } else if (parts.length === 1) s = parts[0]! * 60;
  else if (parts.length === 2) s = parts[0]! * 60 + parts[1]!;
  else s = parts[0]! * 3600 + parts[1]! * 60 + parts[2]!;
  return days * 86400 + s;
}
