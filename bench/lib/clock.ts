// One clock for every bench process: CLOCK_MONOTONIC (process.hrtime) is system-wide on Linux,
// so a timestamp taken in the invoker process can be subtracted from one taken in a device
// process. Milliseconds as a float (µs resolution).
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `check()` is true; rejects after `timeoutMs`. Polls every `everyMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
