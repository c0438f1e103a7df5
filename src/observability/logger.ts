// JSON lines on stdout. Redaction is built in: credential-bearing headers and
// secret fields are censored wherever they appear in a log object (redact.ts).
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { redactSecrets } from './redact';

export type { Logger };

/** `fields` join every line: a cluster worker adds its `worker` id. */
export function createLogger(level: LevelWithSilent, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }), fields: Record<string, unknown> = {}): Logger {
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
