// The streaming pieces end to end on loopback, wired the way the stream loop
// will wire them: a FULL_DUPLEX_STREAMED exchange from the Envoy stand-in, the
// body collected, InvokeWithResponseStream against the streaming fake, the
// first-byte split, and streamed_immediate_response written with gRPC
// backpressure. (The stream loop itself is not in this test: streaming-routes.test.ts
// drives the real server; this one keeps the flow-control case, measured here
// without the loop's other work.)
import { Server, ServerCredentials } from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import { createCancellation } from '../../src/cancellation';
import { toErrorResponse } from '../../src/error-response';
import { toLambdaExtprocError } from '../../src/errors';
import { takeProcessCalls, type ProcessCall } from '../../src/extproc/call';
import type { ProcessingRequest } from '../../src/extproc/messages';
import { processCodec } from '../../src/extproc/proto';
import { immediateResponse } from '../../src/extproc/responses';
import { writeStreamedResponse, type StreamedOutcome } from '../../src/extproc/streamed-response';
import type { OutputOptions } from '../../src/lambda/output';
import { createStreamInvoke } from '../../src/lambda/stream-invoke';
import { startStreamedResponse } from '../../src/lambda/stream-output';
import { createEnvoyStreamClient, type EnvoyStreamClient } from '../envoy-stream-client';
import { startFakeStreamingLambda, type FakeStreamingLambda, type StreamingFunction } from '../fakes/lambda-stream';

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
  // The server's own way to take Process calls (src/extproc/call.ts), without the stream loop.
  const open = (call: ProcessCall) => {
    const body: Buffer[] = [];
    const cancellation = createCancellation();
    let invoked = false;
    return {
      halfClose: () => undefined,
      closed: () => cancellation.cancel(),
      message: (message: ProcessingRequest) => {
        // FULL_DUPLEX_STREAMED: no answer to headers or body chunks; invoke once the body is whole.
        if (message.request_body?.body !== undefined) body.push(message.request_body.body);
        const complete = message.request_headers?.end_of_stream === true || message.request_body?.end_of_stream === true;
        if (!complete || invoked) return;
        invoked = true;
        const functionName = call.metadataValue('x-function') ?? 'fn';
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
      },
    };
  };
  const server = new Server();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  takeProcessCalls(server, open, { maxMessageBytes: 4 * MiB, codec: processCodec() });
  const client = createEnvoyStreamClient(`127.0.0.1:${port}`);
  t.teardown(async () => {
    client.close();
    server.forceShutdown();
    await pool.destroy();
    await fake.close();
  });
  return { fake, client, outcomes };
}

// Causality, failures before and after the first byte: streaming-routes.test.ts, through the real server.
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
