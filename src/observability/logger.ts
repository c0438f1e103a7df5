// JSON lines on stdout. Redaction is built in: credential-bearing headers and
// secret fields are censored wherever they appear in a log object.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'proxy-authorization',
  'x-amz-security-token',
  'aws_key',
  'aws_secret',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'token',
  'aws_session_token',
  'x-aws-ec2-metadata-token',
  'x-amz-signature',
  'signature',
  'password',
  'secret',
  'client_secret',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
];

// Three levels deep covers `{ request: { headers: { authorization } } }` and `{ route: { aws_secret } }` inside a field.
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [`["${key}"]`, `*["${key}"]`, `*.*["${key}"]`, `*.*.*["${key}"]`]);

export function createLogger(level: LevelWithSilent, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  return pino(
    {
      level,
      base: { service: 'lambda-extproc' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
