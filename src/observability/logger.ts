// JSON lines on stdout, written in batches of a few milliseconds (line-batch.ts).
// Redaction is built in: credential-bearing headers and secret fields are
// censored wherever they appear in a log object (redact.ts).
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { batchLines, LINE_DELAY_MS, SHARED_WRITE_BYTES, SOLE_WRITE_BYTES } from './line-batch';
import { redactSecrets } from './redact';

export type { Logger };

/** stdout, batched; `shared` when other processes (cluster workers) write to the same stdout. */
export function stdoutLines(shared: boolean): pino.DestinationStream {
  return batchLines(pino.destination({ dest: 1, sync: true }), { delayMs: LINE_DELAY_MS, writeBytes: shared ? SHARED_WRITE_BYTES : SOLE_WRITE_BYTES });
}

/** `fields` join every line: a cluster worker adds its `worker` id. */
export function createLogger(level: LevelWithSilent, destination: pino.DestinationStream = stdoutLines(false), fields: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'lambda-extproc', ...fields },
      timestamp: isoTimeOncePerMs(),
      formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) },
    },
    destination,
  );
}

/** Writes one line of JSON members without braces, e.g. `"route":"a","status":200`. */
export type LineWriter = (members: string) => void;

/**
 * The line `logger[level](fields, msg)` writes, made without pino's general
 * serializer and redaction walk: for the one line per request, whose fields
 * are fixed and hold no secret. Same time stamp, bindings and destination;
 * level and message are fixed per writer, so their JSON is made once.
 */
export function createLineWriter(logger: Logger, level: 'info' | 'error', msg: string): LineWriter {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as pino.DestinationStream;
  const time = internals[pino.symbols.timeSym] as () => string;
  const head = `{"level":"${level}"`;
  const bindings = `${internals[pino.symbols.chindingsSym] as string},`;
  const tail = `,"msg":${JSON.stringify(msg)}}\n`;
  return (members) => {
    stream.write(head + time() + bindings + members + tail);
  };
}

/**
 * pino's isoTime, formatted once per millisecond: under load several request
 * lines share a millisecond, and Date#toISOString is the dearest part of a line.
 */
export function isoTimeOncePerMs(now: () => number = Date.now): () => string {
  let last = -1;
  let stamp = '';
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      stamp = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return stamp;
  };
}
