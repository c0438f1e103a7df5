// Per-stream deadlines (first message, close after the answer) checked by one
// shared timer. Thousands of streams a second each set and cleared a timer of
// their own; a Set entry costs a fraction of that. Precision is one tick.

export interface Deadlines {
  /** Calls `fire` once, `ms` (rounded up to the next tick) from now; the returned function cancels it. */
  add(ms: number, fire: () => void): () => void;
}

interface Entry {
  readonly at: number;
  readonly fire: () => void;
}

export function createDeadlines(tickMs: number): Deadlines {
  const pending = new Set<Entry>();
  let timer: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    const now = Date.now();
    for (const entry of pending) {
      if (entry.at > now) continue;
      pending.delete(entry);
      entry.fire();
    }
    // Nothing waiting: no timer ticks on an idle server.
    if (pending.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    add(ms, fire) {
      const entry: Entry = { at: Date.now() + ms, fire };
      pending.add(entry);
      if (timer === undefined) {
        timer = setInterval(sweep, tickMs);
        // Deadlines never keep the process alive on their own.
        timer.unref();
      }
      return () => void pending.delete(entry);
    },
  };
}
