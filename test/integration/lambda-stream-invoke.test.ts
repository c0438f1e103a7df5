// InvokeWithResponseStream against the loopback streaming fake: signing and
// request shape, chunks as the function writes them, every way a stream ends,
// and backpressure all the way to Lambda's socket.
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import { createCancellation } from '../../src/cancellation';
import { headerValue } from '../../src/http';
import { functionFailureOf } from '../../src/lambda/event-stream';
import type { InvokeTarget } from '../../src/lambda/invoke';
import { createStreamInvoke, type StreamInvoke } from '../../src/lambda/stream-invoke';
import { startFakeStreamingLambda, type FakeStreamingLambda, type StreamingFunction } from '../fakes/lambda-stream';
import { failureOf } from '../support/failure-of';

const SECRETS = { AKIDSTREAM: 'stream-secret' };

async function setup(t: Test, functions: Record<string, StreamingFunction>, target: Partial<InvokeTarget> = {}): Promise<{ fake: FakeStreamingLambda; invoke: StreamInvoke }> {
  const fake = await startFakeStreamingLambda({ secrets: SECRETS, functions });
  const pool = new Pool(fake.url);
  t.teardown(async () => {
    await pool.destroy();
    await fake.close();
  });
  const invoke = createStreamInvoke(
    { endpoint: fake.url, region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDSTREAM', secretAccessKey: 'stream-secret' }), dispatcher: pool },
    { functionName: 'fn', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 10_000, ...target },
  );
  return { fake, invoke };
}

async function drain(chunks: AsyncIterable<Buffer>): Promise<string[]> {
  const got: string[] = [];
  for await (const chunk of chunks) got.push(chunk.toString('utf8'));
  return got;
}

t.test('signs and sends the streaming invocation with the route qualifier, payload and invocation headers', async (t) => {
  const { fake, invoke } = await setup(t, { 'fn': { contentType: 'text/event-stream', run: async (w) => void (await w.write('hello')) } }, { qualifier: 'live', logType: 'Tail' });
  const stream = await invoke(Buffer.from('{"x":1}'), createCancellation());
  t.same(await drain(stream.chunks), ['hello']);
  t.same(fake.rejected, [], 'the SigV4 signature verified');
  const call = fake.invocations[0];
  t.equal(call?.functionName, 'fn');
  t.equal(call?.qualifier, 'live');
  t.equal(call?.invocationType, 'RequestResponse');
  t.equal(call?.logType, 'Tail');
  t.equal(call?.region, 'eu-west-1');
  t.equal(call?.payload.toString(), '{"x":1}');
  t.equal(stream.status, 200);
  t.equal(headerValue(stream.headers, 'content-type'), 'text/event-stream', "the function's stream content type, not the framing's");
  t.equal(headerValue(stream.headers, 'x-amz-executed-version'), 'live');
  t.match(headerValue(stream.headers, 'x-amzn-requestid'), /^[0-9a-f-]{36}$/);
  t.match(headerValue(stream.headers, 'x-amzn-trace-id'), /^Root=1-/);
});

t.test('the consumer has each chunk before the function writes the next', async (t) => {
  const order: string[] = [];
  let gotA: () => void = () => undefined;
  const consumerHasA = new Promise<void>((resolve) => (gotA = resolve));
  const { invoke } = await setup(t, {
    fn: {
      run: async (w) => {
        await w.write('a');
        order.push('fake wrote a');
        // The function waits for the consumer: "b" cannot exist yet when "a" arrives.
        await consumerHasA;
        order.push('fake writes b');
        await w.write('b');
      },
    },
  });
  const stream = await invoke(Buffer.from('{}'), createCancellation());
  for await (const chunk of stream.chunks) {
    order.push(`consumer got ${chunk.toString()}`);
    if (chunk.toString() === 'a') gotA();
  }
  t.same(order, ['fake wrote a', 'consumer got a', 'fake writes b', 'consumer got b']);
});

t.test('an InvokeComplete with ErrorCode after a chunk fails the iteration with function_error and its details', async (t) => {
  const { invoke } = await setup(t, { fn: { run: async (w) => (await w.write('partial'), w.fail('Unhandled', '{"errorType":"Error","errorMessage":"boom"}')) } });
  const stream = await invoke(Buffer.from('{}'), createCancellation());
  const got: string[] = [];
  const error = await failureOf((async () => { for await (const c of stream.chunks) got.push(c.toString()); })());
  t.same(got, ['partial'], 'the chunk before the failure was delivered');
  t.equal(error.kind, 'function_error');
  t.equal(error.details.awsCode, 'Unhandled');
  t.notMatch(error.message, /boom/, 'function output stays out of the message that is logged');
  t.same(functionFailureOf(error), { errorCode: 'Unhandled', errorDetails: '{"errorType":"Error","errorMessage":"boom"}', logResult: undefined });
});

t.test('a connection cut mid-stream is lambda_unreachable; a stream that hangs meets the route timeout as lambda_timeout', async (t) => {
  const { invoke: cutInvoke } = await setup(t, { fn: { run: async (w) => (await w.write('x'), w.cut()) } });
  const cut = await cutInvoke(Buffer.from('{}'), createCancellation());
  t.equal((await failureOf(drain(cut.chunks))).kind, 'lambda_unreachable');

  const { invoke } = await setup(t, { fn: { run: async (w) => (await w.write('x'), await new Promise(() => undefined)) } }, { timeout: 400 });
  const hung = await invoke(Buffer.from('{}'), createCancellation());
  const error = await failureOf(drain(hung.chunks));
  t.equal(error.kind, 'lambda_timeout');
  t.match(error.message, /400 ms/);
});

t.test('a stream that ends without InvokeComplete is a cut, not a clean end', async (t) => {
  const { invoke } = await setup(t, { fn: { run: async (w) => (await w.write('x'), w.cut()) } });
  const stream = await invoke(Buffer.from('{}'), createCancellation());
  const got: string[] = [];
  const error = await failureOf((async () => { for await (const c of stream.chunks) got.push(c.toString()); })());
  t.same(got, ['x']);
  t.equal(error.kind, 'lambda_unreachable');
});

t.test('cancelling mid-stream stops the iteration and closes the Lambda connection', async (t) => {
  let closed: Promise<void> | undefined;
  const { invoke } = await setup(t, { fn: { run: async (w) => { closed = w.closed; await w.write('x'); await new Promise(() => undefined); } } });
  const cancellation = createCancellation();
  const stream = await invoke(Buffer.from('{}'), cancellation);
  const iterator = stream.chunks[Symbol.asyncIterator]();
  t.equal((await iterator.next()).value?.toString(), 'x');
  const pending = iterator.next();
  cancellation.cancel();
  const error = await failureOf(pending);
  t.equal(error.kind, 'internal');
  t.match(error.message, /cancelled/);
  await closed;
  t.pass('the fake saw its connection close');
});

t.test('a consumer that stops early closes the Lambda connection', async (t) => {
  let closed: Promise<void> | undefined;
  const { invoke } = await setup(t, { fn: { run: async (w) => { closed = w.closed; for (;;) await w.write('more'); } } });
  const stream = await invoke(Buffer.from('{}'), createCancellation());
  for await (const chunk of stream.chunks) if (chunk.length > 0) break;
  await closed;
  t.pass('the fake saw its connection close');
});

t.test("failures before the stream throw the buffered path's kinds", async (t) => {
  const fake = await startFakeStreamingLambda({
    secrets: SECRETS,
    functions: {
      throttled: { apiError: { status: 429, type: 'TooManyRequestsException', message: 'Rate exceeded', headers: { 'Retry-After': '3' } } },
      broken: { apiError: { status: 500, type: 'ServiceException', message: 'internal' } },
    },
  });
  const pool = new Pool(fake.url);
  t.teardown(async () => {
    await pool.destroy();
    await fake.close();
  });
  const invokeOf = (functionName: string, endpoint = fake.url, dispatcher: Pool = pool) =>
    createStreamInvoke(
      { endpoint, region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDSTREAM', secretAccessKey: 'stream-secret' }), dispatcher },
      { functionName, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 5000 },
    );
  const throttled = await failureOf(invokeOf('throttled')(Buffer.from('{}'), createCancellation()));
  t.match(throttled, { kind: 'lambda_throttled', details: { upstreamStatus: 429, awsCode: 'TooManyRequestsException', retryAfter: '3' } });
  t.match(await failureOf(invokeOf('broken')(Buffer.from('{}'), createCancellation())), { kind: 'lambda_service', details: { upstreamStatus: 500, awsCode: 'ServiceException' } });
  t.match(await failureOf(invokeOf('missing')(Buffer.from('{}'), createCancellation())), { kind: 'lambda_service', details: { upstreamStatus: 404, awsCode: 'ResourceNotFoundException' } });
  const wrongKey = createStreamInvoke(
    { endpoint: fake.url, region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDSTREAM', secretAccessKey: 'wrong' }), dispatcher: pool },
    { functionName: 'throttled', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 5000 },
  );
  t.match(await failureOf(wrongKey(Buffer.from('{}'), createCancellation())), { kind: 'lambda_denied', details: { upstreamStatus: 403, awsCode: 'InvalidSignatureException' } });
  // A port nobody listens on: connection refused.
  const closedPort = new Pool('http://127.0.0.1:9');
  t.teardown(() => closedPort.destroy());
  t.match(await failureOf(invokeOf('any', 'http://127.0.0.1:9', closedPort)(Buffer.from('{}'), createCancellation())), { kind: 'lambda_unreachable' });
});
