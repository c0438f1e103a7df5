// Envoy-side abuse: each case ends on its own stream with a gRPC status or
// the right CONTINUE, the in-flight gauge returns to zero, and other streams
// are unaffected.
import { request } from 'node:http';
import { status as GrpcStatus } from '@grpc/grpc-js';
import t from 'tap';
import { eventually } from '../support/eventually';
import { fakeRoute, startHarness } from '../support/harness';

function inFlight(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(Number(/^lambda_extproc_streams_in_flight (\d+)$/m.exec(text)?.[1] ?? NaN)));
    })
      .on('error', reject)
      .end();
  });
}

const path = (p: string) => ({ key: ':path', raw_value: Buffer.from(p) });
const method = (m: string) => ({ key: ':method', raw_value: Buffer.from(m) });

t.test('stream abuse ends each stream alone and leaves nothing in flight', async (t) => {
  let slowReached: () => void = () => undefined;
  const atLambda = new Promise<void>((resolve) => (slowReached = resolve));
  const h = await startHarness({
    config: `admin: { listen: "127.0.0.1:0" }
routes:
${fakeRoute('fn', 'match: { path_prefix: /fn }\nfunction_name: Fn')}
${fakeRoute('slow', 'match: { path_prefix: /slow }\nfunction_name: Slow')}`,
    lambda: { functions: { Fn: () => ({ body: '{"ok":1}' }), Slow: () => (slowReached(), { delayMs: 800, body: '{}' }) } },
  });
  t.teardown(() => h.close());
  const admin = h.app.adminPort ?? 0;
  const headersWithBody = { request_headers: { headers: { headers: [path('/fn'), method('POST')] }, end_of_stream: false } };

  // A steady stream of good requests runs alongside the abuse.
  let stop = false;
  const good: number[] = [];
  const background = (async () => {
    while (!stop) good.push((await h.send({ path: '/fn/ok' })).status);
  })();

  const cases: Array<[string, Parameters<typeof h.envoy.sendRaw>[0], number, RegExp]> = [
    ['a body before headers', [{ request_body: { body: Buffer.from('x'), end_of_stream: true } }], GrpcStatus.FAILED_PRECONDITION, /before request_headers/],
    ['a second headers message', [headersWithBody, headersWithBody], GrpcStatus.FAILED_PRECONDITION, /twice/],
    ['trailers before headers', [{ request_trailers: {} }], GrpcStatus.FAILED_PRECONDITION, /before request_headers/],
    ['a response phase message before the answer', [headersWithBody, { response_body: { body: Buffer.from('x'), end_of_stream: true } }], GrpcStatus.FAILED_PRECONDITION, /before the request was answered/],
    ['a stream closed before its body came', [headersWithBody], GrpcStatus.FAILED_PRECONDITION, /half-closed before the request body/],
  ];
  for (const [name, messages, code, details] of cases) {
    const x = await h.envoy.sendRaw(messages);
    t.equal(x.code, code, `${name}: gRPC status ${code}`);
    t.match(x.details, details, `${name}: the status names the problem`);
  }

  const before = h.lambda.invocations.length;
  // Cancelled once the fake holds the invocation, however long the sidecar took to send it.
  const cancelled = await h.send({ path: '/slow/cancel', cancelWhen: atLambda });
  t.equal(cancelled.outcome, 'cancelled');
  t.ok(h.lambda.invocations.slice(before).some((i) => i.functionName === 'Slow'), 'the cancelled request had reached Lambda');

  stop = true;
  await background;
  t.ok(good.length > 0 && good.every((s) => s === 200), `${good.length} concurrent good requests all answered 200`);
  // Cancellations and closes settle asynchronously: wait for zero, then nothing may be left in flight.
  await eventually(async () => (await inFlight(admin)) === 0);
  t.equal(await inFlight(admin), 0, 'streams in flight back to zero');
  t.equal((await h.send({ path: '/fn/after' })).status, 200, 'the server still serves');
});
