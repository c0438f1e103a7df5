// Connections and streams that never do what Envoy does at once (preface and
// SETTINGS on connect, request_headers on a new stream) are closed; Envoy's
// own idle keep-alive connection and long invocations are not disturbed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectH2, constants, type ClientHttp2Session, type IncomingHttpHeaders, type Settings } from 'node:http2';
import t from 'tap';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ProcessingResponse } from '../../src/extproc/messages';
import { frameMessage, readMessages } from '../support/h2-ext-proc-client';
import { startHarness, fakeRoute, type Harness } from '../support/harness';

const FIRST_MESSAGE_TIMEOUT = 500;
const CONNECTION_IDLE_TIMEOUT = 1500;
const MAX_CONCURRENT_STREAMS = 7;
// Far above the timeouts, so a busy machine's timer lag cannot fail the test;
// without the limits these connections stay open for good.
const CLOSE_BOUND_MS = 15_000;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const METHOD = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

const routes = `routes:
${fakeRoute('fast', `match: { path: /fast }
function_name: Fast`)}
${fakeRoute('slow', `match: { path: /slow }
function_name: Slow
timeout: 10000`)}
`;
const limits = `first_message_timeout: ${FIRST_MESSAGE_TIMEOUT}
connection_idle_timeout: ${CONNECTION_IDLE_TIMEOUT}
max_concurrent_streams: ${MAX_CONCURRENT_STREAMS}
envoy_message_timeout: 30000
`;
const functions = {
  Fast: () => ({ body: '"fast"' }),
  // Longer than both first_message_timeout and connection_idle_timeout.
  Slow: () => ({ body: '"slow"', delayMs: CONNECTION_IDLE_TIMEOUT + 1500 }),
};

/** Resolves with the ms until the server closed the socket, or rejects after `bound` ms. */
function closedWithin(socket: Socket, bound: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${bound} ms`));
    }, bound);
    socket.on('error', () => undefined);
    // Read, so the server's FIN is seen.
    socket.resume();
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

async function rawSocket(port: number, send: string): Promise<Socket> {
  const socket = connectTcp(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (send !== '') socket.write(send);
  return socket;
}

interface H2Answer {
  readonly messages: ProcessingResponse[];
  readonly grpcStatus?: string;
  readonly grpcMessage?: string;
}

/** One Process stream on `session`: sends `path`'s bodiless request_headers (or nothing), reads until the answer or the trailers. */
function processOn(session: ClientHttp2Session, path: string | undefined): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': METHOD, 'content-type': 'application/grpc', te: 'trailers' });
    const messages: ProcessingResponse[] = [];
    let pending: Buffer = Buffer.alloc(0);
    const bound = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer and no status after ${CLOSE_BOUND_MS} ms`));
    }, CLOSE_BOUND_MS);
    stream.on('close', () => clearTimeout(bound));
    stream.on('data', (chunk: Buffer) => {
      pending = readMessages(Buffer.concat([pending, chunk]), messages);
      if (messages.some((m) => m.immediate_response !== undefined)) {
        // Envoy resets the stream once it has the immediate response.
        stream.close(constants.NGHTTP2_CANCEL);
        resolve({ messages });
      }
    });
    const onStatus = (headers: IncomingHttpHeaders): void => {
      if (headers['grpc-status'] !== undefined) resolve({ messages, grpcStatus: String(headers['grpc-status']), grpcMessage: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    };
    // A status with no message before it comes trailers-only, in the response headers.
    stream.on('response', onStatus);
    stream.on('trailers', onStatus);
    stream.on('error', reject);
    if (path !== undefined) {
      const headers = [
        [':authority', 'localhost:8000'],
        [':path', path],
        [':method', 'GET'],
        [':scheme', 'http'],
      ].map(([key, value]) => ({ key: key ?? '', raw_value: Buffer.from(value ?? '') }));
      stream.write(frameMessage({ request_headers: { headers: { headers }, end_of_stream: true }, protocol_config: { request_body_mode: 2, response_body_mode: 0 } }));
    }
  });
}

function openSession(h: Harness): Promise<{ session: ClientHttp2Session; settings: Settings }> {
  const session = connectH2(`http://127.0.0.1:${h.app.port}`);
  session.on('error', () => undefined);
  return new Promise((resolve) => session.once('remoteSettings', (settings) => resolve({ session, settings })));
}

t.test('connection and stream limits (plaintext)', async (t) => {
  const h = await startHarness({ config: limits + routes, lambda: { functions } });
  t.teardown(() => h.close());

  const unfinished: Array<[string, string]> = [
    ['a TCP connection that sends nothing', ''],
    ['half an HTTP/2 preface', PREFACE.slice(0, 12)],
    ['the preface magic without SETTINGS', PREFACE],
  ];
  for (const [name, bytes] of unfinished) {
    t.test(`${name} is closed after first_message_timeout`, async (t) => {
      const socket = await rawSocket(h.app.port, bytes);
      const ms = await closedWithin(socket, CLOSE_BOUND_MS);
      t.ok(ms >= FIRST_MESSAGE_TIMEOUT / 2, `closed by the timer (${ms} ms), not at once`);
    });
  }

  t.test(`advertises SETTINGS_MAX_CONCURRENT_STREAMS = max_concurrent_streams`, async (t) => {
    const { session, settings } = await openSession(h);
    t.teardown(() => session.destroy());
    t.equal(settings.maxConcurrentStreams, MAX_CONCURRENT_STREAMS);
  });

  t.test('a connection that opens no stream gets GOAWAY(NO_ERROR) after connection_idle_timeout', async (t) => {
    const { session } = await openSession(h);
    const started = Date.now();
    const goaway = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no GOAWAY after ${CLOSE_BOUND_MS} ms`)), CLOSE_BOUND_MS);
      session.once('goaway', (code: number) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    t.equal(goaway, constants.NGHTTP2_NO_ERROR, 'a graceful GOAWAY');
    t.ok(Date.now() - started >= CONNECTION_IDLE_TIMEOUT / 2, 'after the idle time, not at once');
    await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
  });

  t.test('a stream that sends no message ends DEADLINE_EXCEEDED, logged and counted as a protocol error', async (t) => {
    const { session } = await openSession(h);
    t.teardown(() => session.destroy());
    const before = protocolErrors(await h.app.metrics.render());
    const answer = await processOn(session, undefined);
    t.equal(answer.grpcStatus, String(GrpcStatus.DEADLINE_EXCEEDED));
    t.match(answer.grpcMessage, /no ProcessingRequest within first_message_timeout \(500 ms\)/);
    t.same(answer.messages, [], 'no answer message');
    t.equal(protocolErrors(await h.app.metrics.render()), before + 1, 'counted');
    t.ok(
      h.logs.some((l) => l.msg === 'ext_proc protocol error' && /first_message_timeout/.test(String(l.error))),
      'logged',
    );
  });

  t.test('an invocation longer than both timeouts completes, and its connection then serves the next request', async (t) => {
    const { session } = await openSession(h);
    t.teardown(() => session.destroy());
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    const slow = await processOn(session, '/slow');
    t.equal(slow.messages.at(-1)?.immediate_response?.status?.code, 200, 'the slow request answered 200');
    t.same(goaways, [], 'no GOAWAY while it ran');
    const fast = await processOn(session, '/fast');
    t.equal(fast.messages.at(-1)?.immediate_response?.status?.code, 200, 'the same connection serves the next request');
    t.notOk(session.closed || session.destroyed, 'one connection throughout');
  });
});

t.test('a TLS connection that never sends a ClientHello is closed after first_message_timeout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-limits-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir, stdio: 'pipe' });
  const h = await startHarness({ config: `tls: { cert_file: ${join(dir, 'cert.pem')}, key_file: ${join(dir, 'key.pem')} }\n${limits}${routes}`, lambda: { functions } });
  t.teardown(() => h.close());
  const socket = await rawSocket(h.app.port, '');
  const ms = await closedWithin(socket, CLOSE_BOUND_MS);
  t.ok(ms >= FIRST_MESSAGE_TIMEOUT / 2, `closed by the timer (${ms} ms), not at once`);
});

function protocolErrors(metrics: string): number {
  return Number(/^lambda_extproc_protocol_errors_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
}
