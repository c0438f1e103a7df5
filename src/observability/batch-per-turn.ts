// Log lines written during one turn of the event loop reach the destination
// as one write. pino's asynchronous destination (sonic-boom) re-measures the
// text still waiting for the previous write on every line it is given, which
// under load cost more than making the line.

/** The part of pino's asynchronous destination (sonic-boom) used here. */
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
    if (pending.length === 0) return;
    const data = pending.length === 1 ? (pending[0] as string) : pending.join('');
    pending = [];
    destination.write(data);
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
