// A matched request → payload → Lambda → the client's response. Never throws:
// failures become their error response, and the cause is returned for the log.
import { performance } from 'node:perf_hooks';
import type { Cancellation } from './cancellation';
import type { RouteConfig } from './config/schema';
import { toErrorResponse } from './error-response';
import { LambdaExtprocError, toLambdaExtprocError } from './errors';
import { headerValue, type HttpRequest, type HttpResponse, type StreamStart } from './http';
import type { LambdaResult } from './lambda/invoke';
import { toClientResponse } from './lambda/output';
import { LAMBDA_RESPONSE_LIMIT } from './lambda/response-limit';
import { collectStreamedResponse, startStreamedResponse } from './lambda/stream-output';
import type { LambdaStream } from './lambda/stream-invoke';
import { buildPayload } from './payload/build';
import type { MatchResult } from './routing';

/** Lambda's synchronous invocation payload limit. */
export const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

export interface HandlerOutcome {
  readonly response: HttpResponse;
  readonly error?: LambdaExtprocError;
  readonly lambdaRequestId?: string;
  readonly skippedBody?: boolean;
}

/** Lambda refuses a larger payload; measured on the encoded JSON, so base64 growth counts. */
function assertWithinPayloadLimit(bytes: Uint8Array): void {
  if (bytes.length > LAMBDA_PAYLOAD_LIMIT) {
    throw new LambdaExtprocError('payload_too_large', `payload of ${bytes.length} bytes exceeds Lambda's ${LAMBDA_PAYLOAD_LIMIT}-byte limit`);
  }
}

export type Invoke = (route: RouteConfig, payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaResult>;

/** Told how long each Lambda call took (not payload building), whatever its outcome. */
export type InvokeTimer = (route: RouteConfig, seconds: number) => void;

export function createRouteHandler(invoke: Invoke, timed: InvokeTimer = () => undefined) {
  return async function handleRoute(request: HttpRequest, route: RouteConfig, match: MatchResult, cancellation: Cancellation): Promise<HandlerOutcome> {
    let skippedBody = false;
    let lambdaRequestId: string | undefined;
    try {
      const payload = buildPayload(request, route, match);
      skippedBody = payload.skippedBody;
      assertWithinPayloadLimit(payload.bytes);
      const started = performance.now();
      let result: LambdaResult;
      try {
        result = await invoke(route, payload.bytes, cancellation);
      } finally {
        timed(route, (performance.now() - started) / 1000);
      }
      lambdaRequestId = headerValue(result.headers, 'x-amzn-requestid');
      const response = toClientResponse(result, route);
      return { response, lambdaRequestId, skippedBody };
    } catch (thrown) {
      const error = toLambdaExtprocError(thrown);
      return {
        response: toErrorResponse(error, route.preserve_lambda_api_error_code),
        error,
        lambdaRequestId,
        skippedBody,
      };
    }
  };
}

export type RouteHandler = ReturnType<typeof createRouteHandler>;

/**
 * A streaming route's answer so far: `start` is a whole response (a failure
 * before the first byte, with `error`, or a stream that ended without one) or
 * the status and headers with the function's bytes still to come.
 */
export interface StreamHandlerOutcome {
  readonly start: StreamStart;
  readonly error?: LambdaExtprocError;
  readonly lambdaRequestId?: string;
  readonly skippedBody?: boolean;
}

export type StreamInvoke = (route: RouteConfig, payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaStream>;

/**
 * The streaming twin of createRouteHandler: the same payload and limits, then
 * InvokeWithResponseStream up to the function's first byte. `timed` is told
 * the time to that first byte (or to the whole answer, if it came first).
 * With `collect` (an Envoy that cannot take a streamed answer) the rest is
 * read into one whole response, within Lambda's usual answer limit.
 */
export function createStreamRouteHandler(invoke: StreamInvoke, timed: InvokeTimer = () => undefined) {
  return async function handleStreamRoute(request: HttpRequest, route: RouteConfig, match: MatchResult, cancellation: Cancellation, collect: boolean): Promise<StreamHandlerOutcome> {
    let skippedBody = false;
    let lambdaRequestId: string | undefined;
    try {
      const payload = buildPayload(request, route, match);
      skippedBody = payload.skippedBody;
      assertWithinPayloadLimit(payload.bytes);
      const started = performance.now();
      let start: StreamStart;
      try {
        const stream = await invoke(route, payload.bytes, cancellation);
        lambdaRequestId = headerValue(stream.headers, 'x-amzn-requestid');
        start = await startStreamedResponse(stream, route);
      } finally {
        timed(route, (performance.now() - started) / 1000);
      }
      if (collect && start.kind === 'stream') start = { kind: 'whole', response: await collectStreamedResponse(start, LAMBDA_RESPONSE_LIMIT, route.function_name) };
      return { start, lambdaRequestId, skippedBody };
    } catch (thrown) {
      const error = toLambdaExtprocError(thrown);
      return { start: { kind: 'whole', response: toErrorResponse(error, route.preserve_lambda_api_error_code) }, error, lambdaRequestId, skippedBody };
    }
  };
}

export type StreamRouteHandler = ReturnType<typeof createStreamRouteHandler>;
