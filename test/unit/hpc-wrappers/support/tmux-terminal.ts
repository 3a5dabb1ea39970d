// A real terminal for interactive commands: a private tmux server (its own socket, so it
// never touches anyone's tmux), one window running the program, keys sent with
// send-keys, the screen read with capture-pane. The pane stays after the program exits
// (remain-on-exit) so its last screen and exit status can be read.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class TmuxTerminal {
  private readonly socket = `hpcwrap-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { env: this.env, encoding: 'utf8' });
  }

  /** Starts `argv` (no shell: tmux execs it when given several words) in a 200x50 window. */
  start(argv: string[], cwd: string): void {
    const conf = join(this.dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 10000\n');
    // tmux 3.3 does not always record a dead pane's exit status (seen: pane_dead 1 with an
    // empty pane_dead_status), so a small Node wrapper writes it to a file.
    const recorder = [
      "const { spawnSync } = require('node:child_process');",
      "const { writeFileSync } = require('node:fs');",
      'const [file, cmd, ...args] = process.argv.slice(1);',
      "const r = spawnSync(cmd, args, { stdio: 'inherit' });",
      "const code = r.status ?? (r.signal ? 128 + (require('node:os').constants.signals[r.signal] ?? 0) : 255);",
      'writeFileSync(file, String(code));',
      'process.exit(code)',
    ].join('\n'); // no trailing ';': tmux reads an argument ending in ';' as a command separator
    execFileSync('tmux', ['-L', this.socket, '-f', conf, 'new-session', '-d', '-s', 'w', '-x', '200', '-y', '50', '-c', cwd, process.execPath, '-e', recorder, this.statusFile, ...argv], { env: this.env });
  }

  /** Everything printed so far (history included, wrapped lines joined). */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-t', 'w', '-S', '-10000']);
  }

  type(text: string): void {
    this.tmux(['send-keys', '-t', 'w', '-l', text]);
  }

  key(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'w', ...keys]);
  }

  /** Waits until `text` appears at least `times` times on the screen. */
  async waitFor(text: string, times = 1, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (s.split(text).length - 1 >= times) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} (x${times}); the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The program's exit status once it ended (null while it runs). */
  exitStatus(): number | null {
    return existsSync(this.statusFile) ? Number(readFileSync(this.statusFile, 'utf8')) : null;
  }

  private get statusFile(): string {
    return join(this.dir, 'exit-status');
  }

  async waitForExit(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.exitStatus();
      if (s !== null) return s;
      if (Date.now() > deadline) throw new Error(`the program did not end; the screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    try {
      this.tmux(['kill-server']); // this socket's server only
    } catch {
      /* already gone */
    }
  }
}
