// Submits wait here, at most cluster.submitConcurrency running at once (issue 10 point 6):
// a burst of creates is accepted at once, each session shows `submitting` while it waits,
// and the login node never sees a hundred `hpc-wrap startjob` at the same moment.

export class SubmitQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** The most submits seen running at once (metrics, benchmarks). */
  peak = 0;

  constructor(private readonly concurrency: number) {}

  /** Submits waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` once a slot is free, in arrival order. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
