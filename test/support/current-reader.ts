// A process that keeps opening a deployed file (as a job starting hpc-wrap would) while a
// deploy switches versions: mostly cheap open+close probes, so a moment without the file
// is hit even when it is short, and every 20th time a full read compared with the bundles,
// so a partial file is seen too. Its own process: a synchronous loop, no event loop gaps.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

const SCRIPT = `
const fs = require('node:fs');
const [file, stopFile, ...bundles] = process.argv.slice(1);
const want = bundles.map((b) => fs.readFileSync(b));
const seen = want.map(() => 0);
let probes = 0;
const bad = [];
fs.writeFileSync(stopFile + '.started', '');
for (let i = 0; !fs.existsSync(stopFile); i++) {
  try {
    if (i % 20 === 0) {
      const got = fs.readFileSync(file);
      const k = want.findIndex((w) => w.equals(got));
      if (k < 0) bad.push('a file of ' + got.length + ' bytes that is none of the bundles');
      else seen[k]++;
    } else {
      fs.closeSync(fs.openSync(file, 'r'));
      probes++;
    }
  } catch (err) {
    bad.push(err.code || err.message);
  }
}
process.stdout.write(JSON.stringify({ seen, probes, bad: bad.slice(0, 20), badCount: bad.length }));
`;

export interface ReaderReport {
  /** Full reads that matched each bundle, in the order given. */
  seen: number[];
  probes: number;
  /** The first problems (ENOENT, partial files), and how many there were. */
  bad: string[];
  badCount: number;
}

/** Starts the reader on `file`; `stop()` ends it and resolves what it saw. */
export async function startCurrentReader(file: string, bundles: string[], stopFile: string): Promise<{ stop(): Promise<ReaderReport> }> {
  rmSync(stopFile, { force: true });
  const child = spawn(process.execPath, ['-e', SCRIPT, file, stopFile, ...bundles], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  for (let i = 0; !existsSync(`${stopFile}.started`); i++) {
    if (i > 200) throw new Error('the reader did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    async stop() {
      writeFileSync(stopFile, '');
      const code = await exited;
      if (code !== 0) throw new Error(`the reader exited ${code}: ${out}`);
      return JSON.parse(out) as ReaderReport;
    },
  };
}
