// The per-request log line (info), failures (error), and at debug the
// sequence of ext_proc messages. Fields are named for log queries, not code.
// Client text is logged bounded: the path without its query (a query may
// carry a token), every request-derived string cut at LOG_VALUE_MAX_CHARS.
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
  /** Set when the response was streamed: payload bytes sent before it ended or was cut. */
  readonly streamedBytes?: number;
  readonly error?: { readonly kind: string; readonly message: string; readonly details: { readonly awsCode?: string } };
}

export interface RequestLog {
  requestDone(record: RequestLogRecord): void;
  requestCancelled(route: string, latencyMs: number, streamedBytes?: number): void;
  protocolError(message: string): void;
  /** Present only when debug is on, so callers skip the call entirely at info. */
  message?: (direction: 'in' | 'out', kind: string) => void;
}

export interface RequestLogOptions {
  /** The top-level `log_query` setting, read per line so a reload applies it. */
  readonly logQuery?: () => boolean;
}

/** Longest string value a request puts in a log line; longer ones are cut and marked. */
export const LOG_VALUE_MAX_CHARS = 1024;

export function createRequestLog(logger: Logger, options: RequestLogOptions = {}): RequestLog {
  const writeRequest = createLineWriter(logger, 'info', 'request');
  const writeFailure = createLineWriter(logger, 'error', 'request failed');
  const logQuery = options.logQuery ?? (() => false);
  const log: RequestLog = {
    requestDone(record) {
      // A streamed response cut after its headers failed whatever status the client saw.
      const failed = record.error !== undefined && (record.status >= 500 || record.streamedBytes !== undefined);
      const level = failed ? 'error' : 'info';
      if (logger.isLevelEnabled(level)) (failed ? writeFailure : writeRequest)(requestMembers(record, logQuery()));
      // Kong logs this at error level too: the function got the request without its body.
      if (record.skippedBody === true) logger.error({ route: record.route, request_id: bounded(record.requestId) }, 'request body too large: left out of the payload (skip_large_bodies, max_body_size)');
    },
    requestCancelled(route, latencyMs, streamedBytes) {
      if (streamedBytes !== undefined) logger.info({ route: bounded(route), latency_ms: latencyMs, streamed_bytes: streamedBytes }, 'request cancelled by Envoy while its response was streaming');
      else logger.info({ route: bounded(route), latency_ms: latencyMs }, 'request cancelled by Envoy before the answer');
    },
    protocolError(message) {
      logger.warn({ error: bounded(message) }, 'ext_proc protocol error');
    },
  };
  if (logger.isLevelEnabled('debug')) {
    log.message = (direction, kind) => logger.debug({ direction, kind }, 'ext_proc message');
  }
  return log;
}

/**
 * `text` when it is at most LOG_VALUE_MAX_CHARS long, else its first
 * LOG_VALUE_MAX_CHARS characters and `...[+N chars]` (N cut off): one 4 MiB
 * :path must not write 4 MiB of log.
 */
export function bounded(text: string): string {
  if (text.length <= LOG_VALUE_MAX_CHARS) return text;
  // Never end on half a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(LOG_VALUE_MAX_CHARS - 1)) ? LOG_VALUE_MAX_CHARS - 1 : LOG_VALUE_MAX_CHARS;
  return `${text.slice(0, end)}...[+${text.length - end} chars]`;
}

/** The path as logged: without its query unless log_query is on, then bounded. */
export function loggedPath(path: string, withQuery: boolean): string {
  const q = withQuery ? -1 : path.indexOf('?');
  return bounded(q === -1 ? path : path.slice(0, q));
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

// A string JSON writes as it is, between quotes: no quote, backslash, control
// character or surrogate (JSON.stringify escapes a lone one). Nearly every value.
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * `text` escaped for a JSON string, without the quotes, as JSON.stringify
 * escapes it: a plain string is itself, so the line is one template around
 * the values, without a quoted copy of each (half the time, a third fewer bytes).
 */
function escaped(text: string): string {
  return PLAIN.test(text) ? text : JSON.stringify(text).slice(1, -1);
}

/** A number as JSON writes it (a non-finite one as null). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/** The request line's fields; the function name and cause are ours, every other string is bounded. */
function requestMembers(record: RequestLogRecord, withQuery: boolean): string {
  const { error } = record;
  let members = `"route":"${escaped(bounded(record.route))}","function":"${escaped(record.functionName)}","method":"${escaped(bounded(record.method))}","path":"${escaped(loggedPath(record.path, withQuery))}","status":${record.status},"latency_ms":${jsonNumber(record.latencyMs)},"request_id":"${escaped(bounded(record.requestId))}"`;
  if (record.lambdaRequestId !== undefined) members += `,"lambda_request_id":"${escaped(bounded(record.lambdaRequestId))}"`;
  if (record.traceId !== undefined) members += `,"trace_id":"${escaped(bounded(record.traceId))}"`;
  if (record.streamedBytes !== undefined) members += `,"streamed_bytes":${record.streamedBytes}`;
  if (error !== undefined) {
    members += `,"cause":"${escaped(error.kind)}","error":"${escaped(bounded(error.message))}"`;
    if (error.details.awsCode !== undefined) members += `,"aws_code":"${escaped(bounded(error.details.awsCode))}"`;
  }
  return members;
}
