// JSON lines on stdout, one write per event-loop turn (batch-per-turn.ts).
// Redaction is built in: credential-bearing headers and secret fields are
// censored wherever they appear in a log object (redact.ts).
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { batchPerTurn } from './batch-per-turn';
import { redactSecrets } from './redact';

export type { Logger };

/** `fields` join every line: a cluster worker adds its `worker` id. */
export function createLogger(level: LevelWithSilent, destination: pino.DestinationStream = batchPerTurn(pino.destination({ dest: 1, sync: true })), fields: Record<string, unknown> = {}): Logger {
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

/** JSON members without braces, e.g. `"route":"a","status":200`. */
export type LineWriter = (level: 'info' | 'error', members: string, msg: string) => void;

/**
 * The line `logger[level](fields, msg)` writes, made without pino's general
 * serializer and redaction walk: for the one line per request, whose fields
 * are fixed and hold no secret. Same time stamp, bindings and destination.
 */
export function createLineWriter(logger: Logger): LineWriter {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as pino.DestinationStream;
  const time = internals[pino.symbols.timeSym] as () => string;
  const bindings = internals[pino.symbols.chindingsSym] as string;
  return (level, members, msg) => {
    stream.write(`{"level":"${level}"${time()}${bindings},${members},"msg":${JSON.stringify(msg)}}\n`);
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
