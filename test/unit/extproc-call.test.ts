// The grpc-js internals extproc/call.ts takes Process streams through, held
// against the installed grpc-js, and the split of streams between the two.
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import t from 'tap';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { canTakeProcessCalls, PROCESS_PATH, takeProcessCalls, type ProcessCall } from '../../src/extproc/call';
import { processCodec } from '../../src/extproc/proto';
import { frameMessage } from '../support/h2-ext-proc-client';

const OPTIONS = { maxMessageBytes: 65536, codec: processCodec() };

async function bound(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
}

/** Opens a stream, half-closes it, and resolves with its response headers and trailers (or the headers of a trailers-only answer). */
function exchange(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', te: 'trailers', ...headers });
    let response: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('response', (h) => (response = h));
    stream.on('trailers', (h) => (trailers = h));
    stream.on('error', reject);
    stream.on('close', () => resolve({ headers: response, trailers }));
    stream.resume();
    stream.end(body);
  });
}

t.test('the installed grpc-js has the http2 servers and stream accounting takeProcessCalls needs, once bound', async (t) => {
  const server = new Server();
  t.teardown(() => server.forceShutdown());
  t.equal(canTakeProcessCalls(server), false, 'no http2 server before bindAsync');
  t.throws(() => takeProcessCalls(server, () => undefined, OPTIONS), /does not expose its http2 servers/);
  await bound(server);
  t.equal(canTakeProcessCalls(server), true);
});

t.test('without grpc-js stream accounting the servers are not taken', async (t) => {
  const server = new Server();
  t.teardown(() => server.forceShutdown());
  await bound(server);
  Object.defineProperty(server, 'onStreamOpened', { value: undefined });
  t.equal(canTakeProcessCalls(server), false);
});

t.test('Process streams go to open, every other stream to grpc-js', async (t) => {
  const server = new Server();
  const port = await bound(server);
  const opened: Array<string | undefined> = [];
  takeProcessCalls(
    server,
    (call: ProcessCall) => {
      opened.push(call.metadataValue('x-lambda-extproc-route'));
      call.fail(9, 'taken here');
      return undefined;
    },
    OPTIONS,
  );
  const session = connect(`http://127.0.0.1:${port}`);
  t.teardown(() => {
    session.close();
    server.forceShutdown();
  });
  const taken = await exchange(session, { ':path': PROCESS_PATH, 'content-type': 'application/grpc', 'x-lambda-extproc-route': 'orders, other' });
  t.same(opened, ['orders'], 'the first of repeated metadata values, as a gRPC library reads it');
  t.equal(taken.headers['grpc-status'], '9', 'trailers-only status from the call');
  t.equal(decodeURI(String(taken.headers['grpc-message'])), 'taken here');
  const other = await exchange(session, { ':path': '/envoy.service.ext_proc.v3.ExternalProcessor/Other', 'content-type': 'application/grpc' });
  t.equal(other.headers['grpc-status'], '12', "grpc-js's UNIMPLEMENTED for a method nobody serves");
  const plain = await exchange(session, { ':path': PROCESS_PATH, 'content-type': 'text/plain' });
  t.equal(plain.headers[':status'], 415, "a Process stream that is not gRPC gets grpc-js's 415");
  t.same(opened, ['orders'], 'neither reached open');
});

t.test('a listener that throws on a message ends that call with INTERNAL, not the process', async (t) => {
  const server = new Server();
  const port = await bound(server);
  let calls = 0;
  takeProcessCalls(
    server,
    () => {
      calls++;
      return {
        message: () => {
          throw new Error('boom');
        },
        halfClose: () => undefined,
        closed: () => undefined,
      };
    },
    OPTIONS,
  );
  const session = connect(`http://127.0.0.1:${port}`);
  t.teardown(() => {
    session.close();
    server.forceShutdown();
  });
  const headers = { ':path': PROCESS_PATH, 'content-type': 'application/grpc' };
  const message = frameMessage({ request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/') }] }, end_of_stream: true } });
  for (const attempt of [1, 2]) {
    const answer = await exchange(session, headers, message);
    t.equal(answer.headers['grpc-status'], '13', `attempt ${attempt}: INTERNAL`);
    t.equal(decodeURI(String(answer.headers['grpc-message'])), 'internal error: boom');
  }
  t.equal(calls, 2, 'the server took the second call after the first threw');
});
