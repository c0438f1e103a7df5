// Per-stream deadlines (first message, Envoy's message timer, close after the
// answer) checked by one shared timer. Thousands of streams a second each set
// and cleared a timer of their own; here a deadline is one small object pushed
// on a queue. Deadlines of one length are due in the order they were made, so
// each length has its own first-in-first-out queue: a tick fires the due ones
// at its head, and a cancelled deadline is only marked, then dropped when it
// reaches the head (or by a compaction, when cancelled ones pile up behind a
// long one still running). Precision is one tick.

/** A pending deadline: cancel() makes sure it never fires. */
export interface Deadline {
  cancel(): void;
}

export interface Deadlines {
  /** Calls `fire` once, `ms` (rounded up to the next tick) from now, unless cancelled. */
  add(ms: number, fire: () => void): Deadline;
  /** Deadlines still waiting (cancelled ones not yet dropped included): for tests. */
  readonly held: number;
}

// Cancelled entries are compacted away once they are this many and the larger part of a queue.
const COMPACT_AT = 1024;

class Entry implements Deadline {
  live = true;
  constructor(
    readonly queue: Queue,
    readonly at: number,
    readonly fire: () => void,
  ) {}

  cancel(): void {
    if (!this.live) return;
    this.live = false;
    const queue = this.queue;
    queue.cancelled++;
    if (!queue.sweeping && queue.cancelled >= COMPACT_AT && queue.cancelled * 2 > queue.size) queue.compact();
  }
}

class Queue {
  entries: Array<Entry | undefined> = [];
  head = 0;
  cancelled = 0;
  // A deadline that fires may cancel others: the queue is not rebuilt under the sweep.
  sweeping = false;

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Fires the due entries at the head and drops the cancelled ones there. */
  sweep(now: number): void {
    const entries = this.entries;
    this.sweeping = true;
    try {
      while (this.head < entries.length) {
        const entry = entries[this.head] as Entry;
        if (entry.live && entry.at > now) break;
        entries[this.head++] = undefined;
        if (entry.live) {
          entry.live = false;
          entry.fire();
        } else this.cancelled--;
      }
    } finally {
      this.sweeping = false;
    }
    if (this.head === entries.length) {
      entries.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
  }

  compact(): void {
    const live: Entry[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i] as Entry;
      if (entry.live) live.push(entry);
    }
    this.entries = live;
    this.head = 0;
    this.cancelled = 0;
  }
}

export function createDeadlines(tickMs: number, now: () => number = Date.now): Deadlines {
  const queues = new Map<number, Queue>();
  let timer: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    const at = now();
    let waiting = 0;
    for (const queue of queues.values()) {
      queue.sweep(at);
      waiting += queue.size;
    }
    // Nothing waiting: no timer ticks on an idle server.
    if (waiting === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    add(ms, fire) {
      let queue = queues.get(ms);
      if (queue === undefined) {
        queue = new Queue();
        queues.set(ms, queue);
      }
      const entry = new Entry(queue, now() + ms, fire);
      queue.entries.push(entry);
      if (timer === undefined) {
        timer = setInterval(sweep, tickMs);
        // Deadlines never keep the process alive on their own.
        timer.unref();
      }
      return entry;
    },
    get held() {
      let held = 0;
      for (const queue of queues.values()) held += queue.size;
      return held;
    },
  };
}
