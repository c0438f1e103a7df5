// The Process method's gRPC wire behaviour, seen at the HTTP/2 level with a raw
// node:http2 client: message framing (split and joined DATA frames),
// max_message_bytes, undecodable and compressed messages, grpc-timeout,
// trailers-only errors, content-type and method checks, health on the same
// port, and streams reset before their first message. Each error case also
// checks that the server goes on answering on the same HTTP/2 connection.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BodySendMode, type ProcessingRequest, type ProcessingResponse } from '../../src/extproc/messages';
import { frameMessage, readMessages } from '../support/h2-ext-proc-client';
import { checkHealth } from '../support/health-client';
import { eventually, within } from '../support/eventually';
import { startHarness, fakeRoute, type Harness } from '../support/harness';

const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
const MAX_MESSAGE_BYTES = 65536;
// The sidecar's own deadline for a silent stream: far from the 100 ms grpc-timeout below, and
// short enough that a server waiting for bytes that never come still ends the stream.
const FIRST_MESSAGE_TIMEOUT = 5000;
// Every wait is bounded far past any busy machine's delay, so a failure cannot hang the suite.
const BOUND_MS = 15_000;
const LAMBDA_STATUS = 201;
const LAMBDA_BODY = 'answered by Wire';

const config = `max_message_bytes: ${MAX_MESSAGE_BYTES}
first_message_timeout: ${FIRST_MESSAGE_TIMEOUT}
routes:
${fakeRoute('wire', `match: { path_prefix: /wire }
function_name: Wire
is_proxy_integration: true`)}
`;
// A status of its own, so an answer is plainly the Lambda's.
const functions = { Wire: () => ({ body: JSON.stringify({ statusCode: LAMBDA_STATUS, body: LAMBDA_BODY }) }) };

/** What one Process stream saw, in order. */
interface Exchange {
  /** The first HEADERS frame from the server (node's 'response' event). */
  readonly headers: IncomingHttpHeaders | undefined;
  /** The trailing HEADERS frame; absent when the status came trailers-only. */
  readonly trailers: IncomingHttpHeaders | undefined;
  /**
   * END_STREAM was set on the response HEADERS frame: with grpc-status in
   * those headers (and no 'trailers' event) a gRPC trailers-only response.
   * Read from the flags node:http2 passes to 'response' (0x1 END_STREAM):
   * ClientHttp2Stream.endAfterHeaders stays false on a client in Node 22.
   */
  readonly endAfterHeaders: boolean;
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string | undefined;
  readonly messages: ProcessingResponse[];
  /** 'headers', 'message' (one per ProcessingResponse), 'trailers', in arrival order. */
  readonly events: string[];
  readonly rstCode: number | undefined;
}

interface Call {
  readonly stream: ClientHttp2Stream;
  /** Settles when the stream has closed; rejects after BOUND_MS. */
  readonly done: Promise<Exchange>;
}

// grpc-message is percent-encoded (gRPC over HTTP/2); a server may also send it as plain text.
function decodeGrpcMessage(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Opens a stream and records what comes back until it closes. It half-closes
 * its side once it has an immediate response (as Envoy's graceful close does)
 * or a status, and never on its own otherwise: the test writes what it likes.
 */
function openCall(session: ClientHttp2Session, headers: OutgoingHttpHeaders = {}): Call {
  const stream = session.request({ ':method': 'POST', ':path': PROCESS, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  const messages: ProcessingResponse[] = [];
  const events: string[] = [];
  let responseHeaders: IncomingHttpHeaders | undefined;
  let trailers: IncomingHttpHeaders | undefined;
  let endAfterHeaders = false;
  let pending: Buffer = Buffer.alloc(0);
  const halfClose = (): void => {
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  };
  const done = new Promise<Exchange>((resolve, reject) => {
    const bound = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`stream not closed after ${BOUND_MS} ms (events: ${events.join(', ') || 'none'})`));
    }, BOUND_MS);
    stream.on('response', (received, flags) => {
      responseHeaders = received;
      endAfterHeaders = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      events.push('headers');
      if (received['grpc-status'] !== undefined) halfClose();
    });
    stream.on('data', (chunk: Buffer) => {
      const before = messages.length;
      pending = readMessages(Buffer.concat([pending, chunk]), messages);
      for (const message of messages.slice(before)) {
        events.push('message');
        if (message.immediate_response !== undefined) halfClose();
      }
    });
    stream.on('trailers', (received) => {
      trailers = received;
      events.push('trailers');
      halfClose();
    });
    // A reset by the server comes as an error, then 'close'.
    stream.on('error', () => undefined);
    stream.on('close', () => {
      clearTimeout(bound);
      const status = trailers?.['grpc-status'] ?? responseHeaders?.['grpc-status'];
      resolve({
        headers: responseHeaders,
        trailers,
        endAfterHeaders,
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: decodeGrpcMessage(trailers?.['grpc-message'] ?? responseHeaders?.['grpc-message']),
        messages,
        events,
        rstCode: stream.rstCode,
      });
    });
  });
  return { stream, done };
}

/** Opens a stream, writes `bytes` as one DATA write, and waits for it to close. */
function exchange(session: ClientHttp2Session, bytes: Buffer | undefined, headers: OutgoingHttpHeaders = {}): Promise<Exchange> {
  const call = openCall(session, headers);
  if (bytes !== undefined) call.stream.write(bytes);
  return call.done;
}

function requestHeaders(path: string, endOfStream: boolean, extra: Array<[string, string]> = []): ProcessingRequest {
  const pairs: Array<[string, string]> = [
    [':authority', 'localhost:8000'],
    [':path', path],
    [':method', endOfStream ? 'GET' : 'POST'],
    [':scheme', 'http'],
    ...extra,
  ];
  return {
    request_headers: { headers: { headers: pairs.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) }, end_of_stream: endOfStream },
    // What the Envoy stand-in sends in its first message.
    protocol_config: { request_body_mode: BodySendMode.BUFFERED, response_body_mode: 0 },
  };
}

/** A gRPC length-prefixed message with the given flag byte and body. */
function frame(body: Buffer, flag = 0, declaredLength = body.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flag, 0);
  prefix.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([prefix, body]);
}

/** A ProcessingRequest's protobuf bytes, without the prefix. */
function encode(message: ProcessingRequest): Buffer {
  return frameMessage(message).subarray(5);
}

const GET_WIRE = frameMessage(requestHeaders('/wire', true));

/** A bodiless request answered with the Lambda's status, then OK once the client half-closed. */
function assertAnswered(t: Test, x: Exchange, what: string): void {
  const answer = x.messages.find((m) => m.immediate_response !== undefined)?.immediate_response;
  t.equal(answer?.status.code, LAMBDA_STATUS, `${what}: immediate response with the Lambda's status`);
  t.equal(answer?.body?.toString(), LAMBDA_BODY, `${what}: the Lambda's body`);
  t.equal(x.grpcStatus, GrpcStatus.OK, `${what}: grpc-status 0 after the half-close (${x.grpcMessage ?? ''})`);
}

function openSession(h: Harness): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${h.app.port}`);
  session.on('error', () => undefined);
  return session;
}

function ping(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => session.ping((error) => (error === null ? resolve() : reject(error))));
}

function streamsInFlight(metrics: string): number {
  return Number(/^lambda_extproc_streams_in_flight (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
}

t.test('Process over raw HTTP/2', async (t) => {
  const h = await startHarness({ config, lambda: { functions } });
  t.teardown(() => h.close());
  // One HTTP/2 connection per test: errors and the normal request after them share it.
  const session = (t: Test): ClientHttp2Session => {
    const s = openSession(h);
    t.teardown(() => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(() => resolve()))));
    return s;
  };

  t.test('a normal stream: HEADERS :status 200 application/grpc, the answer, then trailers grpc-status 0 after the half-close', async (t) => {
    const x = await exchange(session(t), GET_WIRE);
    t.equal(x.headers?.[':status'], 200);
    t.match(String(x.headers?.['content-type']), /^application\/grpc/);
    t.notOk(x.endAfterHeaders, 'the response HEADERS do not end the stream');
    t.equal(x.trailers?.['grpc-status'], '0', 'grpc-status in the trailers');
    t.same(x.events, ['headers', 'message', 'trailers'], 'headers, the answer, then the trailers');
    assertAnswered(t, x, 'the request');
  });

  t.test('a message declaring more than max_message_bytes: RESOURCE_EXHAUSTED; the connection serves on', async (t) => {
    const s = session(t);
    const before = h.lambda.invocations.length;
    // The prefix alone: the declared length is enough to refuse the message.
    const x = await exchange(s, frame(Buffer.alloc(0), 0, MAX_MESSAGE_BYTES + 1));
    t.equal(x.grpcStatus, GrpcStatus.RESOURCE_EXHAUSTED);
    t.match(x.grpcMessage, /larger than max/);
    t.same(x.messages, [], 'no answer message');
    t.equal(h.lambda.invocations.length, before, 'nothing invoked');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('bytes that are no ProcessingRequest: INTERNAL, trailers-only; the connection serves on', async (t) => {
    const s = session(t);
    // A tag varint that never ends: protobuf cannot decode it.
    const x = await exchange(s, frame(Buffer.alloc(8, 0xff)));
    t.equal(x.grpcStatus, GrpcStatus.INTERNAL);
    t.match(x.grpcMessage, /ProcessingRequest|deserializ/i);
    t.same(x.messages, [], 'no answer message');
    // Trailers-only: node:http2 reports the one HEADERS frame as 'response', with
    // END_STREAM in its flags, and emits no 'trailers'.
    t.equal(x.headers?.[':status'], 200, 'HTTP 200, as gRPC errors are');
    t.equal(x.headers?.['grpc-status'], String(GrpcStatus.INTERNAL), 'grpc-status in the response HEADERS');
    t.ok(x.endAfterHeaders, 'END_STREAM on that HEADERS frame');
    t.equal(x.trailers, undefined, 'no separate trailers');
    t.same(x.events, ['headers'], 'nothing but the one HEADERS frame');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  // Fails on the grpc-js server layer, which inflates gzip messages: the
  // hand-written Process layer reads uncompressed messages only (Envoy sends no others).
  t.test('a gzip-compressed message (flag 1, grpc-encoding: gzip): UNIMPLEMENTED naming gzip; the connection serves on', async (t) => {
    const s = session(t);
    const before = h.lambda.invocations.length;
    const x = await exchange(s, frame(gzipSync(encode(requestHeaders('/wire', true))), 1), { 'grpc-encoding': 'gzip' });
    t.equal(x.grpcStatus, GrpcStatus.UNIMPLEMENTED, `status (${x.grpcMessage ?? ''})`);
    t.match(x.grpcMessage, /gzip/);
    t.equal(h.lambda.invocations.length, before, 'nothing invoked');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  // Fails on the grpc-js server layer, which reads a compressed flag without
  // grpc-encoding as identity (these gzip bytes then fail to decode, with a text about decoding).
  t.test('the compressed flag with no grpc-encoding: INTERNAL naming the compression; the connection serves on', async (t) => {
    const s = session(t);
    const x = await exchange(s, frame(gzipSync(encode(requestHeaders('/wire', true))), 1));
    t.equal(x.grpcStatus, GrpcStatus.INTERNAL, `status (${x.grpcMessage ?? ''})`);
    t.match(x.grpcMessage, /compress/i);
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('a message split into 1-byte DATA writes is read whole and answered', async (t) => {
    const call = openCall(session(t));
    for (let i = 0; i < GET_WIRE.length; i++) {
      call.stream.write(GET_WIRE.subarray(i, i + 1));
      // Let bytes go out on their own, so the server gets several DATA frames (node may join the
      // writes of one tick into one frame): each byte of the 5-byte prefix, then every 16th.
      if (i < 6 || i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assertAnswered(t, await call.done, 'the split message');
  });

  t.test('two messages in one DATA write (headers, then the buffered body) are both read: the Lambda gets the body', async (t) => {
    const before = h.lambda.invocations.length;
    const body = 'a=5';
    const bytes = Buffer.concat([
      frameMessage(requestHeaders('/wire', false, [['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(body.length)]])),
      frameMessage({ request_body: { body: Buffer.from(body), end_of_stream: true } }),
    ]);
    const x = await exchange(session(t), bytes);
    t.ok(x.messages[0]?.request_headers !== undefined, 'the headers message answered in kind (CONTINUE, body to come)');
    assertAnswered(t, x, 'the body message');
    t.equal(h.lambda.invocations.length, before + 1, 'invoked once');
    t.same(h.lambda.invocations.at(-1)?.json(), { a: '5' }, 'with the body of the second message');
  });

  t.test("grpc-timeout 100m and no message: DEADLINE_EXCEEDED 'Deadline exceeded', not the first_message_timeout text", async (t) => {
    const s = session(t);
    const x = await exchange(s, undefined, { 'grpc-timeout': '100m' });
    t.equal(x.grpcStatus, GrpcStatus.DEADLINE_EXCEEDED);
    t.equal(x.grpcMessage, 'Deadline exceeded');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('an invalid grpc-timeout: INTERNAL naming grpc-timeout', async (t) => {
    const s = session(t);
    const x = await exchange(s, GET_WIRE, { 'grpc-timeout': 'soon' });
    t.equal(x.grpcStatus, GrpcStatus.INTERNAL);
    t.match(x.grpcMessage, /grpc-timeout/);
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('content-type text/plain on the Process path: HTTP 415', async (t) => {
    const s = session(t);
    const x = await exchange(s, GET_WIRE, { 'content-type': 'text/plain' });
    t.equal(x.headers?.[':status'], 415);
    t.same(x.messages, [], 'no gRPC message');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('an unknown method of the service: UNIMPLEMENTED naming it', async (t) => {
    const s = session(t);
    const x = await exchange(s, GET_WIRE, { ':path': '/envoy.service.ext_proc.v3.ExternalProcessor/Nope' });
    t.equal(x.grpcStatus, GrpcStatus.UNIMPLEMENTED);
    t.match(x.grpcMessage, /Nope/);
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
  });

  t.test('grpc.health.v1.Health/Check on the same port answers SERVING', async (t) => {
    t.equal(await within(checkHealth(`127.0.0.1:${h.app.port}`), BOUND_MS, 'no answer'), 'SERVING');
  });

  t.test('200 streams reset (CANCEL) after their HEADERS, before any DATA: all forgotten, and the connection serves on', async (t) => {
    const s = session(t);
    const goaways: number[] = [];
    s.on('goaway', (code: number) => goaways.push(code));
    const before = h.lambda.invocations.length;
    const inFlight = async (): Promise<number> => streamsInFlight(await h.app.metrics.render());
    const baseline = await inFlight();
    const BATCH = 20;
    for (let batch = 0; batch < 200 / BATCH; batch++) {
      const streams = Array.from({ length: BATCH }, () => s.request({ ':method': 'POST', ':path': PROCESS, 'content-type': 'application/grpc', te: 'trailers' }));
      for (const stream of streams) stream.on('error', () => undefined);
      // The server holds all of them open: their HEADERS arrived before the reset.
      t.ok(await eventually(async () => (await inFlight()) === baseline + BATCH, BOUND_MS), `batch ${batch}: ${BATCH} streams open on the server`);
      const closed = streams.map((stream) => new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve()))));
      for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
      await within(Promise.all(closed), BOUND_MS, undefined);
      t.ok(await eventually(async () => (await inFlight()) === baseline, BOUND_MS), `batch ${batch}: all closed on the server`);
    }
    await ping(s);
    t.same(goaways, [], 'no GOAWAY');
    t.equal(h.lambda.invocations.length, before, 'nothing invoked');
    assertAnswered(t, await exchange(s, GET_WIRE), 'the next request on the connection');
    t.notOk(s.closed || s.destroyed, 'the same connection throughout');
    t.equal(await within(checkHealth(`127.0.0.1:${h.app.port}`), BOUND_MS, 'no answer'), 'SERVING', 'the server is up');
  });
});
