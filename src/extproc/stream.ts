// One Envoy HTTP request = one Process stream. Receive, switch on the message
// case, call one small phase function, send exactly one answer per message.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { createCancellation, type Cancellation, type CancellationSource } from '../cancellation';
import type { RouteConfig } from '../config/schema';
import { toErrorResponse } from '../error-response';
import { LambdaExtprocError } from '../errors';
import { headerValue, type HttpRequest, type HttpResponse, type StreamStart } from '../http';
import { selectRoute, type MatchResult, type RouteTable } from '../routing';
import { readHeaderMap } from './headers';
import type { CallListener, ProcessCall } from './call';
import { BodySendMode, type HttpBody, type HttpHeaders, type OutgoingResponse, type ProcessingRequest, type RequestCase } from './messages';
import { toHttpRequest, toRequestHead, type RequestHead } from './request';
import { createDeadlines, type Deadline } from './deadlines';
import { continueFor, immediateResponse, overrideTimeout, requestBufferedBody } from './responses';
import { writeStreamedResponse } from './streamed-response';

/** What the route handler returns: the response, and what the log needs. */
export interface Outcome {
  readonly response: HttpResponse;
  readonly error?: LambdaExtprocError;
  readonly lambdaRequestId?: string;
  /** The body exceeded max_body_size and was left out (skip_large_bodies). */
  readonly skippedBody?: boolean;
}

/** The stream's only way to reach Lambda, wired in by main. */
export type RouteHandler = (request: HttpRequest, route: RouteConfig, match: MatchResult, cancellation: Cancellation) => Promise<Outcome>;

/** A streaming route's answer up to the function's first byte (route-handler.ts makes it). */
export interface StreamStartOutcome {
  readonly start: StreamStart;
  readonly error?: LambdaExtprocError;
  readonly lambdaRequestId?: string;
  readonly skippedBody?: boolean;
}

/**
 * The way to Lambda of routes with invoke_mode RESPONSE_STREAM; with `collect`
 * (an Envoy that cannot take a streamed answer) the start is always whole.
 */
export type StreamRouteHandler = (request: HttpRequest, route: RouteConfig, match: MatchResult, cancellation: Cancellation, collect: boolean) => Promise<StreamStartOutcome>;

/** Routes and handlers in force when a stream opens; a reload swaps them for new streams only. */
export interface Generation {
  readonly table: RouteTable;
  readonly handle: RouteHandler;
  /** For RESPONSE_STREAM routes; without it they are served by `handle`. */
  readonly handleStream?: StreamRouteHandler;
}

export interface RequestRecord {
  readonly route: string;
  readonly functionName: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly requestId: string;
  readonly lambdaRequestId?: string;
  readonly traceId?: string;
  readonly error?: LambdaExtprocError;
  readonly skippedBody?: boolean;
  /** Set when the response was streamed: payload bytes sent before it ended or was cut. */
  readonly streamedBytes?: number;
}

export interface StreamEvents {
  streamOpened(): void;
  streamClosed(): void;
  requestDone(record: RequestRecord): void;
  /** Envoy cancelled the stream before it got its answer (or, with streamedBytes, while the response was streaming). */
  requestCancelled(route: string, latencyMs: number, streamedBytes?: number): void;
  protocolError(message: string): void;
  /** Debug trace of the message sequence; absent when nobody listens, so it costs nothing. */
  message?(direction: 'in' | 'out', kind: string): void;
}

export interface StreamOptions {
  readonly current: () => Generation;
  readonly events: StreamEvents;
  /** Envoy's message_timeout (ms): past it, ask Envoy for the route's timeout. */
  readonly envoyMessageTimeout: number;
  /** Largest request body accepted, summed over chunks. */
  readonly maxBodyBytes: number;
  /** Largest encoded answer grpc-js will send (grpc.max_send_message_length). */
  readonly maxResponseBytes: number;
  /** Envoy sends request_headers as it opens a stream: a stream silent this long (ms) is not Envoy. */
  readonly firstMessageTimeout: number;
  /** Envoy has allow_mode_override: a body Envoy will not send can be asked for with mode_override. */
  readonly allowModeOverride?: boolean;
}

// 'streaming': streamed_immediate_response headers are out, body messages follow.
type Phase = 'start' | 'body' | 'invoking' | 'streaming' | 'passthrough' | 'done';

const ROUTE_METADATA = 'x-lambda-extproc-route';
// After its answer Envoy half-closes (graceful close) or resets (its default)
// at once; a client that does neither gets its OK status after this long,
// Envoy's own wait for the server's trailers.
export const CLOSE_WAIT_MS = 1000;
const TICK_MS = 50;
const deadlines = createDeadlines(TICK_MS);
const ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc';

/** Takes a new Process call (call.ts): returns what it is to be told of the call. */
export function handleProcessStream(call: ProcessCall, options: StreamOptions): CallListener {
  const generation = options.current();
  const events = options.events;
  // Made when an invocation starts: most streams are answered and reset without one.
  let cancellation: CancellationSource | undefined;
  const metadataRoute = call.metadataValue(ROUTE_METADATA);
  let phase: Phase = 'start';
  let bodyMode: number | undefined;
  let head: RequestHead | undefined;
  let route: RouteConfig | undefined;
  let match: MatchResult | undefined;
  let chunks: Buffer[] = [];
  let bodyBytes = 0;
  let closed = false;
  let halfClosed = false;
  let queue = Promise.resolve();
  // Cancelled by the first message; a stream that never sends one would hold a slot and the drain.
  let silence: Deadline | undefined = deadlines.add(options.firstMessageTimeout, () => {
    silence = undefined;
    fail(GrpcStatus.DEADLINE_EXCEEDED, `no ProcessingRequest within first_message_timeout (${options.firstMessageTimeout} ms) of the stream opening`);
  });
  // Set while an answered stream waits for Envoy to close it.
  let closeWait: Deadline | undefined;
  // A RESPONSE_STREAM route with Envoy in FULL_DUPLEX_STREAMED: no answer
  // until the function's first byte, then streamed_immediate_response.
  let duplex = false;
  let overrideTimer: Deadline | undefined;
  // Envoy cancelled while the response was streaming: the writer reports it when it stops.
  let cancelledMidStream = false;

  events.streamOpened();
  const close = (): void => {
    if (closed) return;
    closed = true;
    silence?.cancel();
    closeWait?.cancel();
    overrideTimer?.cancel();
    events.streamClosed();
  };

  function send(response: OutgoingResponse): void {
    events.message?.('out', Buffer.isBuffer(response) ? 'immediate_response' : Object.keys(response).join(','));
    call.write(response);
  }

  function finish(): void {
    phase = 'done';
    call.end();
    close();
  }

  // Envoy closes the stream itself after an immediate response: OK trailers sent
  // now would race its reset (frames on a stream it has reset count against the
  // connection), so they go out on its half-close, or after CLOSE_WAIT_MS.
  function awaitClose(): void {
    if (halfClosed) return finish();
    phase = 'done';
    closeWait = deadlines.add(CLOSE_WAIT_MS, () => {
      closeWait = undefined;
      finish();
    });
  }

  function fail(code: GrpcStatus, details: string): void {
    if (phase === 'done') return;
    phase = 'done';
    cancellation?.cancel();
    events.protocolError(details);
    call.fail(code, details);
    close();
  }

  async function onMessage(message: ProcessingRequest): Promise<void> {
    // After the answer Envoy may still deliver queued messages: they need none.
    if (phase === 'done') return;
    // Observability mode is send-and-forget: Envoy ignores any reply.
    if (message.observability_mode === true) return;
    if (message.protocol_config !== undefined && bodyMode === undefined) bodyMode = message.protocol_config.request_body_mode ?? BodySendMode.NONE;
    const kind = message.request;
    switch (kind) {
      case 'request_headers':
        return onRequestHeaders(message, message.request_headers ?? {});
      case 'request_body':
        return onRequestBody(message.request_body ?? {});
      case 'request_trailers':
        return onRequestTrailers();
      case 'response_headers':
      case 'response_body':
      case 'response_trailers':
        // Sent when Envoy processes responses of requests we let through.
        return onResponsePhase(kind);
      default:
        return fail(GrpcStatus.INVALID_ARGUMENT, 'ProcessingRequest carries no request message (empty oneof)');
    }
  }

  async function onRequestHeaders(message: ProcessingRequest, headers: HttpHeaders): Promise<void> {
    if (phase !== 'start') return fail(GrpcStatus.FAILED_PRECONDITION, head === undefined ? 'request_headers received after a response-phase message' : 'request_headers received twice on one stream');
    const attributes = message.attributes?.[ATTRIBUTES_KEY]?.fields;
    head = toRequestHead(readHeaderMap(headers.headers), Date.now(), attributes);
    const xdsRouteName = attributes?.['xds.route_name']?.stringValue;
    const selection = selectRoute(generation.table, { metadataRoute, xdsRouteName, method: head.method, pathname: head.pathname });
    if (selection.kind === 'none') {
      phase = 'passthrough';
      return send(continueFor('request_headers'));
    }
    if (selection.kind === 'unknown') {
      const error = new LambdaExtprocError('unknown_route', `no route named "${selection.name}" (from gRPC metadata ${ROUTE_METADATA})`);
      return answer(toErrorResponse(error), selection.name, '', error);
    }
    route = selection.route.config;
    match = selection.match;
    if (route.invoke_mode === 'RESPONSE_STREAM' && bodyMode === BodySendMode.FULL_DUPLEX_STREAMED && generation.handleStream !== undefined) {
      // Envoy's message timer runs from these headers until the streamed headers: ask for more now, upload included.
      duplex = true;
      overrideTimer = scheduleTimeoutOverride(route.timeout);
      if (headers.end_of_stream === true) return invoke(null);
      phase = 'body';
      return;
    }
    if (headers.end_of_stream === true) return invoke(null);
    if (bodyMode === BodySendMode.NONE) {
      if (options.allowModeOverride === true) {
        // Envoy honours mode_override only in a headers answer, and only with allow_mode_override.
        phase = 'body';
        bodyMode = BodySendMode.BUFFERED;
        return send(requestBufferedBody());
      }
      const error = new LambdaExtprocError('body_mode', 'request has a body but Envoy sends none: set request_body_mode: BUFFERED in the Envoy ext_proc filter');
      return answer(toErrorResponse(error), route.name, route.function_name, error);
    }
    phase = 'body';
    send(continueFor('request_headers'));
  }

  async function onRequestBody(body: HttpBody): Promise<void> {
    if (phase === 'passthrough') return send(continueFor('request_body'));
    // FULL_DUPLEX_STREAMED: no answer per chunk; chunks after the invocation (none are expected) are ignored.
    if (duplex && phase !== 'body') return;
    if (phase === 'start') return fail(GrpcStatus.FAILED_PRECONDITION, 'request_body received before request_headers');
    if (phase !== 'body' || route === undefined) return fail(GrpcStatus.FAILED_PRECONDITION, 'request_body received after the body was complete');
    const chunk = body.body ?? Buffer.alloc(0);
    bodyBytes += chunk.length;
    if (bodyBytes > options.maxBodyBytes) {
      chunks = [];
      const error = new LambdaExtprocError('payload_too_large', `request body exceeds ${options.maxBodyBytes} bytes`);
      return answer(toErrorResponse(error), route.name, route.function_name, error);
    }
    chunks.push(chunk);
    if (body.end_of_stream === true || bodyMode === BodySendMode.BUFFERED) return invoke(chunks);
    if (duplex) return;
    if (bodyMode === BodySendMode.BUFFERED_PARTIAL) {
      // Envoy hit its buffer limit and sent part of the body: never invoke with half a body.
      chunks = [];
      const error = new LambdaExtprocError('body_truncated', 'Envoy sent a partial body (BUFFERED_PARTIAL buffer limit reached)');
      return answer(toErrorResponse(error), route.name, route.function_name, error);
    }
    // STREAMED (or an Envoy that does not say): every chunk but the last is let through.
    send(continueFor('request_body'));
  }

  async function onRequestTrailers(): Promise<void> {
    // Trailers end a body that arrived without end_of_stream.
    if (phase === 'body') return invoke(chunks);
    if (phase === 'start') return fail(GrpcStatus.FAILED_PRECONDITION, 'request_trailers received before request_headers');
    // Any answer after streamed headers would be a spurious message to Envoy.
    if (duplex) return;
    send(continueFor('request_trailers'));
  }

  async function onResponsePhase(kind: RequestCase): Promise<void> {
    // No request phase at all (request_header_mode SKIP, response headers SEND): nothing of ours to do.
    if (phase === 'start') phase = 'passthrough';
    if (phase === 'passthrough') return send(continueFor(kind));
    return fail(GrpcStatus.FAILED_PRECONDITION, `${kind} received before the request was answered`);
  }

  async function invoke(body: Buffer[] | null): Promise<void> {
    if (head === undefined || route === undefined || match === undefined) return;
    if (route.invoke_mode === 'RESPONSE_STREAM' && generation.handleStream !== undefined) {
      // Declared in this block, so the closure is made for streaming routes only: buffered streams allocate nothing new.
      return invokeStreaming(body, generation.handleStream);
      // A RESPONSE_STREAM route: InvokeWithResponseStream up to the first byte, then
      // streamed to Envoy (FULL_DUPLEX_STREAMED) or collected into one answer.
      async function invokeStreaming(body: Buffer[] | null, handleStream: StreamRouteHandler): Promise<void> {
        if (head === undefined || route === undefined || match === undefined) return;
        phase = 'invoking';
        const current = route;
        const requestHead = head;
        const request = toHttpRequest(requestHead, body);
        // The duplex timer has run since the headers; a collecting route starts its own now.
        const timer = duplex ? overrideTimer : scheduleTimeoutOverride(current.timeout);
        chunks = [];
        cancellation = createCancellation();
        let outcome: StreamStartOutcome;
        try {
          outcome = await handleStream(request, current, match, cancellation, !duplex);
        } finally {
          timer?.cancel();
        }
        if (phase !== 'invoking') return abandon(outcome.start); // cancelled while Lambda ran
        const { start, lambdaRequestId, skippedBody } = outcome;
        if (start.kind === 'whole') return answer(start.response, current.name, current.function_name, outcome.error, lambdaRequestId, skippedBody);
        phase = 'streaming';
        const written = await writeStreamedResponse(call, start.response);
        // Envoy went away (the client did): the Lambda request is already aborted.
        if (cancelledMidStream) return events.requestCancelled(current.name, Date.now() - requestHead.receivedAt, written.bytes);
        if (phase !== 'streaming') return; // ended by a protocol error, already reported
        if (!written.headersSent && written.error !== undefined) {
          // Nothing reached Envoy: still the buffered answer.
          return answer(toErrorResponse(written.error, current.preserve_lambda_api_error_code), current.name, current.function_name, written.error, lambdaRequestId, skippedBody);
        }
        // The writer ended the call itself: OK after end_of_stream, UNAVAILABLE after a failure.
        phase = 'done';
        close();
        events.requestDone({
          route: current.name,
          functionName: current.function_name,
          method: requestHead.method,
          path: requestHead.path,
          status: start.response.status,
          latencyMs: Date.now() - requestHead.receivedAt,
          requestId: requestHead.requestId,
          lambdaRequestId,
          skippedBody,
          traceId: headerValue(start.response.headers, 'x-amzn-trace-id'),
          error: written.error,
          streamedBytes: written.bytes,
        });
      }
    }
    phase = 'invoking';
    const request = toHttpRequest(head, body);
    const current = route;
    const timer = scheduleTimeoutOverride(current.timeout);
    try {
      cancellation = createCancellation();
      const outcome = await generation.handle(request, current, match, cancellation);
      if (phase !== 'invoking') return; // cancelled while Lambda ran
      answer(outcome.response, current.name, current.function_name, outcome.error, outcome.lambdaRequestId, outcome.skippedBody);
    } finally {
      timer?.cancel();
      chunks = [];
    }
  }

  // Envoy's message_timeout (200 ms by default) is far below a Lambda call:
  // by half way to it, ask once for the route's timeout plus a margin. Half, not
  // just before: under load a late timer or a queued write must still land in
  // time. On the shared tick, so due one tick before half way, fired by it.
  function scheduleTimeoutOverride(routeTimeout: number): Deadline | undefined {
    const limit = options.envoyMessageTimeout;
    if (routeTimeout < limit) return undefined;
    return deadlines.add(Math.max(1, Math.floor(limit / 2) - TICK_MS), () => {
      if (phase === 'invoking' || phase === 'body') send(overrideTimeout(routeTimeout + 1000));
    });
  }

  function answer(response: HttpResponse, routeName: string, functionName: string, error?: LambdaExtprocError, lambdaRequestId?: string, skippedBody?: boolean): void {
    let encoded = immediateResponse(response, error === undefined ? 'lambda_extproc_response' : `lambda_extproc_${error.kind}`);
    if (encoded.length > options.maxResponseBytes) {
      // grpc-js would refuse to send it (RESOURCE_EXHAUSTED): answer, log and count what Envoy gets instead.
      error = new LambdaExtprocError('lambda_response_too_large', `response of ${encoded.length} bytes (encoded for Envoy) exceeds max_message_bytes (${options.maxResponseBytes} bytes)`);
      response = toErrorResponse(error);
      encoded = immediateResponse(response, `lambda_extproc_${error.kind}`);
    }
    send(encoded);
    awaitClose();
    if (head === undefined) return;
    const traceId = headerValue(response.headers, 'x-amzn-trace-id');
    events.requestDone({
      route: routeName,
      functionName,
      method: head.method,
      path: head.path,
      status: response.status,
      latencyMs: Date.now() - head.receivedAt,
      requestId: head.requestId,
      lambdaRequestId,
      skippedBody,
      traceId,
      error,
    });
  }

  return {
    message(message) {
      if (silence !== undefined) {
        silence.cancel();
        silence = undefined;
      }
      events.message?.('in', message.request ?? 'none');
      // Messages are handled one at a time, in order, so answers keep Envoy's order.
      queue = queue.then(() => onMessage(message)).catch((error: unknown) => fail(GrpcStatus.INTERNAL, `internal error: ${(error as Error).message}`));
    },
    halfClose() {
      // Envoy half-closed: finish with OK unless an answer is still being made;
      // a body that can no longer arrive would otherwise hold the stream forever.
      // Queued behind the messages already received, so they are handled first.
      halfClosed = true;
      if (silence !== undefined) {
        silence.cancel();
        silence = undefined;
      }
      queue = queue.then(() => {
        if (phase === 'body') fail(GrpcStatus.FAILED_PRECONDITION, 'stream half-closed before the request body was complete');
        else if (phase !== 'invoking' && phase !== 'streaming') finish();
      });
    },
    closed() {
      // Envoy resets every stream after its answer, and the call closes after our status:
      // only a close mid-invoke (or mid-stream) has work to stop.
      if (phase === 'invoking' && route !== undefined && head !== undefined) events.requestCancelled(route.name, Date.now() - head.receivedAt);
      if (phase === 'streaming') cancelledMidStream = true;
      if (phase === 'invoking' || phase === 'streaming') cancellation?.cancel();
      phase = 'done';
      close();
    },
  };
}

/** A stream nobody will read: leaving it closes the Lambda connection. */
function abandon(start: StreamStart): void {
  if (start.kind === 'stream') void start.response.chunks[Symbol.asyncIterator]().return?.();
}
