// A session is ready only when its server answers HTTP; any response below 500 counts
// (the API of a singleuser server answers without authentication).
export async function probeServer(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}
