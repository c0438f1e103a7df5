// The streaming pieces end to end on loopback, wired the way the stream loop
// will wire them: a FULL_DUPLEX_STREAMED exchange from the Envoy stand-in, the
// body collected, InvokeWithResponseStream against the streaming fake, the
// first-byte split, and streamed_immediate_response written with gRPC
// backpressure. (The stream loop itself is not in this test.)
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import { createCancellation } from '../../src/cancellation';
import { toErrorResponse } from '../../src/error-response';
import { toLambdaExtprocError } from '../../src/errors';
import type { OutgoingResponse, ProcessingRequest } from '../../src/extproc/messages';
import { loadSchemas } from '../../src/extproc/proto';
import { immediateResponse } from '../../src/extproc/responses';
import { writeStreamedResponse, type StreamedOutcome } from '../../src/extproc/streamed-response';
import type { OutputOptions } from '../../src/lambda/output';
import { createStreamInvoke } from '../../src/lambda/stream-invoke';
import { startStreamedResponse } from '../../src/lambda/stream-output';
import { createEnvoyStreamClient, type EnvoyStreamClient } from '../envoy-stream-client';
import { httpIntegrationPrelude, startFakeStreamingLambda, type FakeStreamingLambda, type StreamingFunction } from '../fakes/lambda-stream';

const OUTPUT: OutputOptions = { is_proxy_integration: false, empty_arrays_mode: 'correct', awsgateway_compatible: false, awsgateway_compatible_payload_version: '1.0' };
const MiB = 1024 * 1024;

interface Rig {
  readonly fake: FakeStreamingLambda;
  readonly client: EnvoyStreamClient;
  readonly outcomes: StreamedOutcome[];
}

async function rig(t: Test, functions: Record<string, StreamingFunction>, output: OutputOptions = OUTPUT): Promise<Rig> {
  const fake = await startFakeStreamingLambda({ secrets: { AKIDE2E: 'e2e-secret' }, functions });
  const pool = new Pool(fake.url);
  const outcomes: StreamedOutcome[] = [];
  const server = new Server();
  server.addService(loadSchemas().extProc, {
    Process: (call: ServerDuplexStream<ProcessingRequest, OutgoingResponse>) => {
      const body: Buffer[] = [];
      const cancellation = createCancellation();
      let invoked = false;
      call.on('cancelled', () => cancellation.cancel());
      call.on('data', (message: ProcessingRequest) => {
        // FULL_DUPLEX_STREAMED: no answer to headers or body chunks; invoke once the body is whole.
        if (message.request_body?.body !== undefined) body.push(message.request_body.body);
        const complete = message.request_headers?.end_of_stream === true || message.request_body?.end_of_stream === true;
        if (!complete || invoked) return;
        invoked = true;
        const functionName = String(call.metadata.get('x-function')[0] ?? 'fn');
        const invoke = createStreamInvoke(
          { endpoint: fake.url, region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDE2E', secretAccessKey: 'e2e-secret' }), dispatcher: pool },
          { functionName, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 60_000 },
        );
        void (async () => {
          try {
            const start = await startStreamedResponse(await invoke(Buffer.concat(body), cancellation), output);
            if (start.kind === 'whole') {
              call.write(immediateResponse(start.response, 'lambda_extproc_response'));
              return call.end();
            }
            outcomes.push(await writeStreamedResponse(call, start.response));
          } catch (thrown) {
            const error = toLambdaExtprocError(thrown);
            call.write(immediateResponse(toErrorResponse(error), `lambda_extproc_${error.kind}`));
            call.end();
          }
        })();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const client = createEnvoyStreamClient(`127.0.0.1:${port}`);
  t.teardown(async () => {
    client.close();
    server.forceShutdown();
    await pool.destroy();
    await fake.close();
  });
  return { fake, client, outcomes };
}

t.test('the client has "a" before the function writes "b"; the request body arrived whole; the stream ends with end_of_stream', async (t) => {
  let release: () => void = () => undefined;
  const clientHasA = new Promise<void>((resolve) => (release = resolve));
  const order: string[] = [];
  const { fake, client, outcomes } = await rig(t, {
    fn: {
      contentType: 'text/plain',
      run: async (w) => {
        await w.write('a');
        await clientHasA;
        order.push('function writes b');
        await w.write('b');
      },
    },
  });
  const reply = await client.exchange({
    path: '/chat',
    body: ['{"q":', '"hi"}'],
    onChunk: (_index, chunk) => {
      order.push(`client got ${chunk.toString() || '(end)'}`);
      if (chunk.toString() === 'a') release();
    },
  });
  t.same(order, ['client got a', 'function writes b', 'client got b', 'client got (end)']);
  t.equal(reply.outcome, 'streamed');
  t.equal(reply.status, 200);
  t.same(reply.headerValues('content-type'), ['text/plain']);
  t.equal(reply.headerValues('x-amzn-requestid').length, 1);
  t.same(reply.headerValues('transfer-encoding'), [], 'no hop-by-hop header from Lambda');
  t.equal(reply.body.toString(), 'ab');
  t.same(reply.chunks.map((c) => c.bytes.toString()), ['a', 'b', ''], 'one body message per chunk, then an empty one with end_of_stream');
  t.ok((reply.chunks[1]?.at ?? 0) >= (reply.chunks[0]?.at ?? Infinity), 'arrival times recorded in order');
  t.equal(fake.invocations[0]?.payload.toString(), '{"q":"hi"}', 'FULL_DUPLEX body chunks collected before the invocation');
  t.match(outcomes[0], { headersSent: true, bytes: 2, messages: 3 });
  t.equal(outcomes[0]?.error, undefined);
});

t.test('a function that fails mid-stream: the gRPC stream ends non-OK after the partial body, never with end_of_stream', async (t) => {
  const { client, outcomes } = await rig(t, { fn: { run: async (w) => (await w.write('partial'), w.fail('Unhandled', '{"errorMessage":"boom"}')) } });
  const reply = await client.exchange({ path: '/x' });
  t.equal(reply.outcome, 'reset');
  t.equal(reply.status, 200, 'the client had the headers');
  t.equal(reply.body.toString(), 'partial');
  t.equal(reply.grpcCode, 14, 'UNAVAILABLE');
  t.match(reply.grpcDetails, /function_error/);
  t.notOk(reply.received.some((m) => m.streamed_immediate_response?.body_response?.end_of_stream === true), 'no end_of_stream was sent');
  t.match(outcomes[0], { headersSent: true, error: { kind: 'function_error' } });
});

t.test('failures before the first byte are plain answers: a function error as buffered, a bad prelude as 502', async (t) => {
  const { client } = await rig(
    t,
    {
      early: { run: (w) => w.fail('Unhandled', '{"errorMessage":"early"}') },
      badPrelude: { contentType: 'application/vnd.awslambda.http-integration-response', run: async (w) => void (await w.write('{"statusCode":"x"}\0\0\0\0\0\0\0\0body')) },
      preluded: {
        contentType: 'application/vnd.awslambda.http-integration-response',
        run: async (w) => {
          await w.write(httpIntegrationPrelude({ statusCode: 201, headers: { 'content-type': 'text/event-stream' }, cookies: ['a=1', 'b=2'] }).subarray(0, 10));
          await w.write(Buffer.concat([httpIntegrationPrelude({ statusCode: 201, headers: { 'content-type': 'text/event-stream' }, cookies: ['a=1', 'b=2'] }).subarray(10), Buffer.from('data: 1\n\n')]));
        },
      },
    },
    { ...OUTPUT, is_proxy_integration: true },
  );
  const early = await client.exchange({ path: '/x', metadata: { 'x-function': 'early' } });
  t.equal(early.outcome, 'immediate');
  t.equal(early.status, 502, 'proxy route: the error document has no statusCode, as buffered');
  const bad = await client.exchange({ path: '/x', metadata: { 'x-function': 'badPrelude' } });
  t.equal(bad.outcome, 'immediate');
  t.equal(bad.status, 502);
  t.match(bad.body.toString(), /statusCode must be an integer/);
  const good = await client.exchange({ path: '/x', metadata: { 'x-function': 'preluded' } });
  t.equal(good.outcome, 'streamed');
  t.equal(good.status, 201);
  t.same(good.headerValues('set-cookie'), ['a=1', 'b=2'], 'one header line per cookie');
  t.same(good.headerValues('content-type'), ['text/event-stream']);
  t.equal(good.body.toString(), 'data: 1\n\n');
});

t.test('a function error before any byte on a plain route is the buffered answer: 200, the error document', async (t) => {
  const { client } = await rig(t, { fn: { run: (w) => w.fail('Unhandled', '{"errorMessage":"early"}') } });
  const reply = await client.exchange({ path: '/x' });
  t.equal(reply.outcome, 'immediate');
  t.equal(reply.status, 200);
  t.equal(reply.body.toString(), '{"errorMessage":"early"}');
});

t.test('a slow client holds the function back through gRPC flow control; a client that leaves closes the Lambda connection', async (t) => {
  let written = (): number => 0;
  let lambdaClosed: Promise<void> = Promise.resolve();
  const chunk = Buffer.alloc(64 * 1024, 0x63);
  const { client } = await rig(t, {
    fn: {
      run: async (w) => {
        written = () => w.bytesWritten;
        lambdaClosed = w.closed;
        for (let i = 0; i < 4096; i++) await w.write(chunk);
      },
    },
  });
  let atChunk40 = 0;
  const reply = await client.exchange({
    path: '/x',
    pauseAfterChunkMs: 25,
    cancelAfterChunks: 41,
    onChunk: (index) => {
      if (index === 40) atChunk40 = written();
    },
  });
  t.equal(reply.outcome, 'cancelled');
  t.ok(atChunk40 > 0 && atChunk40 < 24 * MiB, `after 40 slow reads the function had written ${(atChunk40 / MiB).toFixed(1)} MiB of 256 MiB`);
  await lambdaClosed;
  t.pass('the Lambda connection closed when the client left');
});
