// The per-request log line (info), failures (error), and at debug the
// sequence of ext_proc messages. Fields are named for log queries, not code.
import { createLineWriter, type Logger } from './logger';

/** What a finished request tells the log (a RequestRecord fits). */
export interface RequestLogRecord {
  readonly route: string;
  readonly functionName: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly requestId: string;
  readonly lambdaRequestId?: string;
  readonly traceId?: string;
  readonly skippedBody?: boolean;
  readonly error?: { readonly kind: string; readonly message: string; readonly details: { readonly awsCode?: string } };
}

export interface RequestLog {
  requestDone(record: RequestLogRecord): void;
  requestCancelled(route: string, latencyMs: number): void;
  protocolError(message: string): void;
  /** Present only when debug is on, so callers skip the call entirely at info. */
  message?: (direction: 'in' | 'out', kind: string) => void;
}

export function createRequestLog(logger: Logger): RequestLog {
  const writeLine = createLineWriter(logger);
  const log: RequestLog = {
    requestDone(record) {
      const failed = record.error !== undefined && record.status >= 500;
      const level = failed ? 'error' : 'info';
      if (logger.isLevelEnabled(level)) writeLine(level, requestMembers(record), failed ? 'request failed' : 'request');
      // Kong logs this at error level too: the function got the request without its body.
      if (record.skippedBody === true) logger.error({ route: record.route, request_id: record.requestId }, 'request body too large: left out of the payload (skip_large_bodies, max_body_size)');
    },
    requestCancelled(route, latencyMs) {
      logger.info({ route, latency_ms: latencyMs }, 'request cancelled by Envoy before the answer');
    },
    protocolError(message) {
      logger.warn({ error: message }, 'ext_proc protocol error');
    },
  };
  if (logger.isLevelEnabled('debug')) {
    log.message = (direction, kind) => logger.debug({ direction, kind }, 'ext_proc message');
  }
  return log;
}

const json = JSON.stringify;

/** The request line's fields; every value is ours or a request's plain text, none a secret. */
function requestMembers(record: RequestLogRecord): string {
  const { error } = record;
  let members = `"route":${json(record.route)},"function":${json(record.functionName)},"method":${json(record.method)},"path":${json(record.path)},"status":${record.status},"latency_ms":${json(record.latencyMs)},"request_id":${json(record.requestId)}`;
  if (record.lambdaRequestId !== undefined) members += `,"lambda_request_id":${json(record.lambdaRequestId)}`;
  if (record.traceId !== undefined) members += `,"trace_id":${json(record.traceId)}`;
  if (error !== undefined) {
    members += `,"cause":${json(error.kind)},"error":${json(error.message)}`;
    if (error.details.awsCode !== undefined) members += `,"aws_code":${json(error.details.awsCode)}`;
  }
  return members;
}
