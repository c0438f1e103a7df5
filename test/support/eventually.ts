// Waiting for a cause instead of sleeping for a guess: a test waits until
// what it expects has happened, with a deadline far past any busy machine's
// delay, and only the deadline (a real failure) costs that long.

/** Polls `check` until it is true; false if `timeoutMs` passes first. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The promise's value, or `fallback` if it has not settled within `timeoutMs`. */
export function within<T, F>(promise: Promise<T>, timeoutMs: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
