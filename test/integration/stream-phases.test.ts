// Phase rules of one Process stream that Envoy configurations reach: an answer
// too large to send, response-phase messages with no request phase, and the
// time at which override_message_timeout goes out.
import t from 'tap';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startHarness, fakeRoute } from '../support/harness';

const KiB = 1024;

t.test('an answer larger than max_message_bytes', async (t) => {
  const h = await startHarness({
    config: `max_message_bytes: 65536
routes:
${fakeRoute('big', `match: { path: /big }
function_name: Big`)}
${fakeRoute('fits', `match: { path: /fits }
function_name: Fits`)}
`,
    lambda: { functions: { Big: () => ({ body: Buffer.alloc(100 * KiB, 0x61) }), Fits: () => ({ body: Buffer.alloc(60 * KiB, 0x62) }) } },
  });
  t.teardown(() => h.close());

  t.test('is answered 502 lambda_response_too_large, and logged and counted as what Envoy got', async (t) => {
    const r = await h.send({ path: '/big' });
    t.equal(r.outcome, 'immediate', `an immediate response, not a gRPC error (grpc ${r.grpcCode} ${r.grpcDetails})`);
    t.equal(r.status, 502);
    t.same(r.json(), { message: 'Bad Gateway' });
    t.equal(r.received.at(-1)?.immediate_response?.details, 'lambda_extproc_lambda_response_too_large');
    t.equal(h.lambda.invocations.length, 1, 'the function ran once');
    const line = h.logs.find((l) => l.path === '/big');
    t.equal(line?.status, 502, 'the log says 502');
    t.equal(line?.cause, 'lambda_response_too_large');
    t.match(String(line?.error), /response of \d+ bytes \(encoded for Envoy\) exceeds max_message_bytes \(65536 bytes\)/);
    const metrics = await h.app.metrics.render();
    t.match(metrics, /lambda_extproc_requests_total\{route="big",status="502",cause="lambda_response_too_large"\} 1/);
    t.notMatch(metrics, /route="big",status="200"/, 'no success counted');
  });

  t.test('an answer under the limit still goes out whole', async (t) => {
    const r = await h.send({ path: '/fits' });
    t.equal(r.status, 200);
    t.equal(r.body.length, 60 * KiB);
  });
});

t.test('response-phase messages on a stream without a request phase', async (t) => {
  const h = await startHarness({ config: `routes:\n${fakeRoute('lambda1', 'match: { path_prefix: /lambda1 }\nfunction_name: MyLambda')}` });
  t.teardown(() => h.close());

  t.test('response_headers first (request_header_mode SKIP) is answered CONTINUE, and so is the rest of the response', async (t) => {
    const status = { key: ':status', raw_value: Buffer.from('200') };
    const x = await h.envoy.sendRaw([
      { response_headers: { headers: { headers: [status] }, end_of_stream: false }, protocol_config: { request_body_mode: 0, response_body_mode: 2 } },
      { response_body: { body: Buffer.from('upstream'), end_of_stream: false } },
      { response_trailers: { trailers: { headers: [] } } },
    ]);
    t.equal(x.code, GrpcStatus.OK, x.details);
    // proto-loader names the oneof case that is set in `response`.
    t.same(
      x.received.map((m) => (m as { response?: string }).response),
      ['response_headers', 'response_body', 'response_trailers'],
      'one answer per message, each of its own kind',
    );
    t.equal(x.received[0]?.response_headers?.response?.status ?? 0, 0, 'CONTINUE');
    t.equal(h.lambda.invocations.length, 0, 'nothing invoked');
    t.notOk(h.logs.some((l) => l.msg === 'ext_proc protocol error'), 'not a protocol error');
  });

  t.test('response_body first (response headers SKIP, body SEND) is answered CONTINUE', async (t) => {
    const x = await h.envoy.sendRaw([{ response_body: { body: Buffer.from('upstream'), end_of_stream: true } }]);
    t.equal(x.code, GrpcStatus.OK, x.details);
    t.same(x.received.map((m) => (m as { response?: string }).response), ['response_body'], 'answered in kind');
  });

  t.test('request_headers after a response-phase message is a protocol error that says so', async (t) => {
    const headers = { request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/lambda1') }] }, end_of_stream: true } };
    const x = await h.envoy.sendRaw([{ response_headers: {} }, headers]);
    t.equal(x.code, GrpcStatus.FAILED_PRECONDITION);
    t.match(x.details, /request_headers received after a response-phase message/);
    t.equal(h.lambda.invocations.length, 0, 'nothing invoked');
  });
});

// The event loop is held busy from well after the override's time until past
// Envoy's message_timeout, as a loaded process would be. An override timed
// just before Envoy's deadline is then still queued when Envoy's timer fires;
// one sent half way there is already in Envoy's hands.
t.test('override_message_timeout goes out half way to Envoy message_timeout, so a stalled event loop does not lose it', async (t) => {
  const MESSAGE_TIMEOUT = 1000;
  const h = await startHarness({
    config: `envoy_message_timeout: ${MESSAGE_TIMEOUT}
routes:
${fakeRoute('slow', `match: { path: /slow }
function_name: Slow
timeout: 5000`)}
`,
    lambda: {
      functions: {
        Slow: () => {
          // 700 ms in (past 500, the half-way point; before 950, where the old margin sent it)
          // stall the loop until past Envoy's 1000 ms timer.
          setTimeout(() => busyWait(MESSAGE_TIMEOUT / 2 + 100), 700);
          return { body: '"slow"', delayMs: 1500 };
        },
      },
    },
  });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/slow', messageTimeoutMs: MESSAGE_TIMEOUT, maxMessageTimeoutMs: 10_000 });
  t.equal(r.outcome, 'immediate', 'Envoy kept waiting: the override arrived before its timer fired');
  t.equal(r.status, 200);
  const overrides = r.received.filter((m) => m.override_message_timeout !== undefined);
  t.equal(overrides.length, 1, 'one override');
  t.ok(r.received.indexOf(overrides[0] ?? {}) < r.received.findIndex((m) => m.immediate_response !== undefined), 'the override came before the answer');
});

function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // holding the event loop, as a CPU-bound burst would
  }
}
