// Log lines written during one turn of the event loop reach the destination
// as one write: under load, one write(2) to stdout per turn instead of one
// per line. The destination writes synchronously, as Node's own stdout does
// on Linux pipes: pino's asynchronous mode hands every write to libuv's
// thread pool and re-measures the text still waiting on every line, which
// cost more than making the lines.

// A write(2) of at most PIPE_BUF bytes to a pipe is atomic. Cluster workers
// share the primary's stdout, so a larger write could be cut by another
// worker's lines; a single longer line still goes out alone.
const ATOMIC_WRITE_BYTES = 4096;

/** The part of pino's destination (sonic-boom) used here. */
export interface LineDestination {
  write(data: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

export function batchPerTurn(destination: LineDestination): LineDestination {
  let pending: string[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    const lines = pending;
    pending = [];
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + bytes > ATOMIC_WRITE_BYTES) {
        destination.write(chunk);
        chunk = '';
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunkBytes > 0) destination.write(chunk);
  };
  // The turn may not end: lines of a process that exits now are written now.
  process.on('exit', () => {
    drain();
    destination.flushSync();
  });
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
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
