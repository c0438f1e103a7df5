// Log lines are collected for a few milliseconds and reach the destination in
// a few large writes: under load, a handful of write(2) calls to stdout a
// second instead of one per event-loop turn. A write to a pipe wakes its
// reader (the container runtime), and on a virtual machine a wake-up on the
// other CPU costs more than the write. The destination writes synchronously,
// as Node's own stdout does on Linux pipes: pino's asynchronous mode hands
// every write to libuv's thread pool and re-measures the text still waiting
// on every line, which cost more than making the lines.

/** The part of pino's destination (sonic-boom) used here. */
export interface LineDestination {
  write(data: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

export interface LineBatchOptions {
  /** Longest a line waits, ms. */
  readonly delayMs: number;
  /** Largest write, in whole lines (a single longer line still goes out alone); lines that would wait past it are written at once. */
  readonly writeBytes: number;
}

// A write(2) of at most PIPE_BUF bytes to a pipe is atomic: cluster workers
// share the primary's stdout, so their writes stay within it, or another
// process's lines could land inside them.
export const SHARED_WRITE_BYTES = 4096;
/** One process alone on stdout: a pipe's default capacity. */
export const SOLE_WRITE_BYTES = 65536;
export const LINE_DELAY_MS = 10;

export function batchLines(destination: LineDestination, options: LineBatchOptions): LineDestination {
  let pending: string[] = [];
  let pendingBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const drain = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const lines = pending;
    pending = [];
    pendingBytes = 0;
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + bytes > options.writeBytes) {
        destination.write(chunk);
        chunk = '';
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunkBytes > 0) destination.write(chunk);
  };
  // Lines of a process that exits now are written now.
  process.on('exit', () => {
    drain();
    destination.flushSync();
  });
  return {
    write(line) {
      // Counted in UTF-16 units: exact for the ASCII of almost every line; drain still cuts by bytes.
      if (pendingBytes > 0 && pendingBytes + line.length > options.writeBytes) drain();
      pending.push(line);
      pendingBytes += line.length;
      if (timer === undefined) {
        timer = setTimeout(drain, options.delayMs);
        // Waiting lines never keep the process alive: the exit handler writes them.
        timer.unref();
      }
      return true;
    },
    flush(callback) {
      drain();
      destination.flush(callback);
    },
    flushSync() {
      drain();
      destination.flushSync();
    },
  };
}
