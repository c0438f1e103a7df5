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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) },
    },
    destination,
  );
}
