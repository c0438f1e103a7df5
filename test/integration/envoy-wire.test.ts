// Envoy's ext_proc wire rules, each driven by the Envoy stand-in against the
// real server and the SigV4-checking fake Lambda.
import t from 'tap';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startHarness, fakeRoute, type Harness } from '../support/harness';
import { within } from '../support/eventually';
import { atOrAbove } from '../support/log-levels';
import { openProcessStream } from '../support/open-stream';
import { CLOSE_WAIT_MS } from '../../src/extproc/stream';

const MiB = 1024 * 1024;

const routes = `
${fakeRoute('lambda1', `match: { path_prefix: /lambda1 }
function_name: MyLambda`)}
${fakeRoute('named', `function_name: NamedFunction`)}
${fakeRoute('slow', `match: { path: /slow }
function_name: Slow
timeout: 2000`)}
${fakeRoute('hang', `match: { path: /hang }
function_name: Hang`)}
${fakeRoute('proxy', `match: { path: /proxy }
function_name: Proxy
is_proxy_integration: true`)}
${fakeRoute('big', `match: { path: /big }
function_name: Big
skip_large_bodies: false`)}
${fakeRoute('raw', `match: { path: /raw }
function_name: Raw`)}
`;

const functions = {
  MyLambda: () => ({ body: '{"response": "yes"}' }),
  // Slower than the stand-in Envoy's 1000 ms message_timeout in the timeouts tests.
  Slow: () => ({ body: '"slow"', delayMs: 1200 }),
  Hang: () => ({ body: '"late"', delayMs: 3000 }),
  Raw: () => ({ body: Buffer.from([0, 1, 2, 255]), contentType: 'application/octet-stream' }),
  Proxy: () => ({
    body: JSON.stringify({
      statusCode: 418,
      headers: { 'X-Custom': 'tea', Connection: 'close', 'Transfer-Encoding': 'chunked', 'Keep-Alive': 'timeout=5' },
      multiValueHeaders: { 'Set-Cookie': ['a=1; Path=/', 'b=2; HttpOnly'] },
      body: "I'm a teapot",
    }),
  }),
  '*': () => ({}),
};

function lambdaServer(h: Harness): Server {
  return (h.lambda as unknown as { server: Server }).server;
}

t.test('Envoy wire behaviour', async (t) => {
  // Far above any answer here: no override_message_timeout joins the other tests' messages.
  const h = await startHarness({ config: `envoy_message_timeout: 2000\nroutes:\n${routes}`, lambda: { functions } });
  t.teardown(() => h.close());

  t.test('route selection', async (t) => {
    t.test("selects the route whose name equals Envoy's xds.route_name attribute", async (t) => {
      const r = await h.send({ path: '/somewhere/else', routeName: 'named' });
      t.equal(r.status, 200, r.body.toString());
      t.equal(h.lambda.invocations.at(-1)?.functionName, 'NamedFunction');
    });
    t.test('gRPC metadata wins over xds.route_name', async (t) => {
      await h.send({ path: '/x', routeName: 'named', metadata: { 'x-lambda-extproc-route': 'lambda1' } });
      t.equal(h.lambda.invocations.at(-1)?.functionName, 'MyLambda');
    });
    t.test('an xds.route_name no route has falls through to path matching', async (t) => {
      const r = await h.send({ path: '/lambda1', routeName: 'some-envoy-route' });
      t.equal(r.status, 200);
      t.equal(h.lambda.invocations.at(-1)?.functionName, 'MyLambda');
      const none = await h.send({ path: '/nothing', routeName: 'some-envoy-route' });
      t.equal(none.outcome, 'upstream', 'no name and no match: CONTINUE');
    });
  });

  t.test('body modes', async (t) => {
    t.test('BUFFERED: headers answered CONTINUE, the one body message gets the immediate response', async (t) => {
      const r = await h.send({ path: '/lambda1', body: 'a=1', headers: [['content-type', 'application/x-www-form-urlencoded']] });
      t.equal(r.status, 200);
      t.equal(r.sent.length, 2);
      t.ok(r.received[0]?.request_headers);
      t.notOk(r.received[0]?.immediate_response);
      t.ok(r.received[1]?.immediate_response);
    });
    t.test('BUFFERED_PARTIAL with a truncated body answers 413 and invokes nothing', async (t) => {
      const before = h.lambda.invocations.length;
      const r = await h.send({ path: '/lambda1', body: 'x'.repeat(100), bodyMode: 'BUFFERED_PARTIAL', chunkSize: 40 });
      t.equal(r.status, 413);
      t.equal(r.sent.at(-1)?.request_body?.end_of_stream, false, 'Envoy sent part of the body');
      t.equal(h.lambda.invocations.length, before, 'never invoked with half a body');
    });
    t.test('BUFFERED_PARTIAL with the whole body invokes as BUFFERED', async (t) => {
      const r = await h.send({ path: '/lambda1', body: 'a=1', bodyMode: 'BUFFERED_PARTIAL', chunkSize: 40, headers: [['content-type', 'application/x-www-form-urlencoded']] });
      t.equal(r.status, 200);
      t.same(h.lambda.invocations.at(-1)?.json(), { a: '1' });
    });
    t.test('STREAMED: every chunk but the last is answered CONTINUE, the last gets the response', async (t) => {
      const body = JSON.stringify({ text: 'y'.repeat(1000) });
      const r = await h.send({ path: '/lambda1', body, bodyMode: 'STREAMED', chunkSize: 256, headers: [['content-type', 'application/json']] });
      t.equal(r.status, 200);
      const chunks = r.sent.filter((m) => m.request_body !== undefined).length;
      t.equal(chunks, Math.ceil(body.length / 256));
      t.equal(r.received.filter((m) => m.request_body !== undefined).length, chunks - 1, 'one CONTINUE per chunk before the last');
      t.ok(r.received.at(-1)?.immediate_response);
      t.same(h.lambda.invocations.at(-1)?.json(), JSON.parse(body), 'chunks joined in order');
    });
    t.test('STREAMED over the 6 MiB Lambda limit answers 413 without invoking', async (t) => {
      const before = h.lambda.invocations.length;
      const body = Buffer.from(JSON.stringify({ k: 'a'.repeat(7 * MiB) }));
      const r = await h.send({ path: '/big', body, bodyMode: 'STREAMED', chunkSize: MiB, headers: [['content-type', 'application/json']] });
      t.equal(r.status, 413, 'payload over Lambda limit');
      t.equal(h.lambda.invocations.length, before);
      // 12 chunks of 1 MiB: the 9th passes max_message_bytes (8 MiB), and the stand-in sends no chunk after an answer.
      const huge = await h.send({ path: '/big', body: Buffer.alloc(12 * MiB, 0x61), bodyMode: 'STREAMED', chunkSize: MiB, headers: [['content-type', 'application/json']] });
      t.equal(huge.status, 413, 'accumulated chunks past max_message_bytes');
      t.equal(huge.sent.filter((m) => m.request_body !== undefined).length, 9, 'answered at the chunk that passed 8 MiB, 3 chunks before the last');
      t.equal(h.lambda.invocations.length, before);
    });
    t.test('NONE with a body answers 500 telling the operator to set request_body_mode: BUFFERED', async (t) => {
      const before = h.lambda.invocations.length;
      const r = await h.send({ path: '/lambda1', body: 'a=1', bodyMode: 'NONE' });
      t.equal(r.status, 500);
      t.match(r.body.toString(), /request_body_mode: BUFFERED/);
      t.equal(r.sent.length, 1, 'answered on the headers message');
      t.equal(h.lambda.invocations.length, before);
    });
    t.test('without protocol_config (older Envoy) a body is still awaited and used', async (t) => {
      const r = await h.send({ path: '/lambda1', body: 'a=2', sendProtocolConfig: false, headers: [['content-type', 'application/x-www-form-urlencoded']] });
      t.equal(r.status, 200);
      t.same(h.lambda.invocations.at(-1)?.json(), { a: '2' });
    });
  });

  t.test('headers', async (t) => {
    t.test('reads value when raw_value is empty (Envoy before 1.27)', async (t) => {
      const r = await h.send({ path: '/lambda1?q=1', legacyHeaderValues: true });
      t.equal(r.status, 200);
      t.equal(h.lambda.invocations.at(-1)?.functionName, 'MyLambda', ':path read from value');
      t.same(h.lambda.invocations.at(-1)?.json(), { q: '1' });
    });
    t.test('writes raw_value only, append false, and append true for each further set-cookie', async (t) => {
      const r = await h.send({ path: '/proxy' });
      const set = r.received.at(-1)?.immediate_response?.headers?.set_headers ?? [];
      t.ok(set.length > 0);
      for (const option of set) {
        t.notOk((option.header as { value?: string }).value, `${option.header.key}: no value field`);
        t.ok(Buffer.isBuffer(option.header.raw_value), `${option.header.key}: raw_value bytes`);
      }
      const cookies = set.filter((o) => o.header.key === 'set-cookie');
      t.same(cookies.map((o) => o.append.value), [false, true]);
      t.same(r.headerValues('set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly'], 'the client gets both cookies');
      t.same(set.filter((o) => o.header.key !== 'set-cookie').map((o) => o.append.value).filter(Boolean), [], 'everything else append false');
    });
    t.test('sends 418, outside Envoy StatusCode enum, as a number', async (t) => {
      const r = await h.send({ path: '/proxy' });
      t.equal(r.received.at(-1)?.immediate_response?.status.code, 418);
      t.equal(r.status, 418);
      t.equal(r.body.toString(), "I'm a teapot");
    });
    t.test('drops hop-by-hop and length headers from the function response', async (t) => {
      const r = await h.send({ path: '/proxy' });
      const keys = (r.received.at(-1)?.immediate_response?.headers?.set_headers ?? []).map((o) => o.header.key);
      for (const name of ['connection', 'transfer-encoding', 'keep-alive', 'content-length']) t.notOk(keys.includes(name), `${name} not sent`);
      t.ok(keys.every((k) => !k.startsWith(':')), 'no pseudo-headers');
      t.equal(r.header('x-custom'), 'tea');
    });
    t.test("sets content-type explicitly, so Envoy's text/plain default never applies", async (t) => {
      const r = await h.send({ path: '/raw' });
      const keys = (r.received.at(-1)?.immediate_response?.headers?.set_headers ?? []).map((o) => o.header.key);
      t.ok(keys.includes('content-type'));
      t.equal(r.header('content-type'), 'application/octet-stream');
      t.same([...r.body], [0, 1, 2, 255], 'binary output intact');
    });
  });

  t.test('timeouts', async (t) => {
    // The sidecar is told a 100 ms message_timeout and the stand-in Envoy enforces 1000 ms. Both timers run on
    // this process's one event loop, so equal values would race on a busy machine; this way the override goes
    // out long before the stand-in's timer. The function (1200 ms) outlasts that timer, so only the override
    // lets it through: the next test sends the same request with the override not honoured and gets 504.
    const short = await startHarness({ config: `envoy_message_timeout: 100\nroutes:\n${routes}`, lambda: { functions } });
    t.teardown(() => short.close());
    t.test("a function slower than Envoy's message_timeout is answered through one override_message_timeout", async (t) => {
      const r = await short.send({ path: '/slow', messageTimeoutMs: 1000, maxMessageTimeoutMs: 5000 });
      t.equal(r.outcome, 'immediate');
      t.equal(r.status, 200);
      const overrides = r.received.filter((m) => m.override_message_timeout !== undefined);
      t.equal(overrides.length, 1, 'once per message');
      const d = overrides[0]?.override_message_timeout;
      t.equal(Number(d?.seconds ?? 0) * 1000 + Math.floor(Number(d?.nanos ?? 0) / 1e6), 3000, "the route's timeout plus a margin");
      t.same(Object.keys(overrides[0] ?? {}), ['override_message_timeout'], 'nothing else in that message');
      t.ok(r.received.indexOf(overrides[0] as (typeof r.received)[number]) < r.received.length - 1, 'the override came before the answer');
    });
    t.test('the same function without max_message_timeout gets Envoy 504', async (t) => {
      const r = await short.send({ path: '/slow', messageTimeoutMs: 1000 });
      t.equal(r.outcome, 'timeout');
      t.equal(r.status, 504);
    });
    t.test('a fast function sends no override', async (t) => {
      // Told 2000 ms, the sidecar would ask at 1000 ms: a function answering at once never gets there.
      const r = await h.send({ path: '/lambda1', messageTimeoutMs: 2000, maxMessageTimeoutMs: 5000 });
      t.equal(r.status, 200);
      t.equal(r.received.filter((m) => m.override_message_timeout !== undefined).length, 0);
    });
  });

  t.test('stream lifecycle', async (t) => {
    t.test('a reset right after the answer is normal: no error or warning logged', async (t) => {
      const mark = h.logs.length;
      const r = await h.send({ path: '/lambda1', closeMode: 'reset' });
      t.equal(r.status, 200);
      // The next stream on the same HTTP/2 connection is read after the reset: once it is answered, the reset was handled.
      t.equal((await h.send({ path: '/lambda1' })).status, 200);
      const logs = h.logs.slice(mark);
      t.ok(logs.length > 0, 'the two requests were logged');
      t.same(atOrAbove(logs, 'warn').map((l) => l.msg), [], 'nothing at warn or above');
      t.notOk(logs.some((l) => l.msg === 'request cancelled by Envoy before the answer'));
    });
    const bodiless = { request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/lambda1') }, { key: ':method', raw_value: Buffer.from('GET') }] }, end_of_stream: true } };
    const answered = async (stream: ReturnType<typeof openProcessStream>): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (stream.received.at(-1)?.immediate_response === undefined) {
        if (Date.now() > deadline) throw new Error('no immediate response within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    t.test('after its answer the stream waits for Envoy to close it: a half-close gets the OK status', async (t) => {
      const stream = openProcessStream(`127.0.0.1:${h.app.port}`);
      t.teardown(() => stream.close());
      let settled = false;
      void stream.status.then(() => (settled = true));
      stream.write(bodiless);
      await answered(stream);
      // Well inside CLOSE_WAIT_MS: the OK trailers must not have raced ahead of Envoy's close.
      await new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS / 5));
      t.equal(settled, false, 'no status before the half-close');
      stream.end();
      const status = await within(stream.status, 10_000, { code: -1 });
      t.equal(status.code, GrpcStatus.OK, 'OK once the client half-closed');
    });
    t.test('a client that neither half-closes nor resets gets OK after the bounded wait', async (t) => {
      const stream = openProcessStream(`127.0.0.1:${h.app.port}`);
      t.teardown(() => stream.close());
      // Timed from before the request: the server's wait starts later still, so this bound is one-sided and exact.
      const started = Date.now();
      stream.write(bodiless);
      await answered(stream);
      const status = await within(stream.status, 10_000, { code: -1 });
      const waited = Date.now() - started;
      t.equal(status.code, GrpcStatus.OK, 'OK while the client side is still open');
      t.ok(waited >= CLOSE_WAIT_MS - 1, `status came ${waited} ms after the request (the server waited for a close)`);
      const r = await h.send({ path: '/lambda1', closeMode: 'graceful' });
      t.equal(r.status, 200, 'and a gracefully closing Envoy gets its answer');
    });
    t.test('a cancel before the answer aborts the Lambda HTTP request and is logged as cancelled', async (t) => {
      let reached: () => void = () => undefined;
      const atLambda = new Promise<void>((resolve) => (reached = resolve));
      const aborted = new Promise<boolean>((resolve) => {
        lambdaServer(h).once('request', (_req: IncomingMessage, res: ServerResponse) => {
          reached();
          res.once('close', () => resolve(!res.writableEnded));
        });
      });
      // Cancelled once the fake holds the call (the function would answer 3 s later), whatever the machine's speed.
      const r = await h.send({ path: '/hang', cancelWhen: atLambda });
      t.equal(r.outcome, 'cancelled');
      t.equal(await within(aborted, 10_000, 'still open'), true, 'the fake saw its socket close before it answered');
      const next = await h.send({ path: '/lambda1' });
      t.equal(next.status, 200, 'the server carries on');
      // The next stream was handled after the cancel: its lines are written by now.
      t.ok(h.logs.some((l) => l.msg === 'request cancelled by Envoy before the answer' && l.route === 'hang'));
      t.notOk(h.logs.some((l) => l.msg === 'request failed' && l.route === 'hang'), 'no error line for it');
    });
    t.test('messages after the answer are ignored', async (t) => {
      const x = await h.envoy.sendRaw([
        { request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/lambda1') }, { key: ':method', raw_value: Buffer.from('GET') }] }, end_of_stream: true } },
        { request_body: { body: Buffer.from('late'), end_of_stream: true } },
        { request_trailers: {} },
      ]);
      t.equal(x.code, GrpcStatus.OK);
      t.equal(x.received.length, 1, 'one answer: the immediate response');
      t.ok(x.received[0]?.immediate_response);
    });
    t.test('response-phase messages of a let-through request are answered CONTINUE', async (t) => {
      const r = await h.send({ path: '/not-lambda', responseHeaderMode: 'SEND' });
      t.equal(r.outcome, 'upstream');
      t.ok(r.received.at(-1)?.response_headers, 'response_headers answered in kind');
      const x = await h.envoy.sendRaw([
        { request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/not-lambda') }] }, end_of_stream: true } },
        { response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] }, end_of_stream: false } },
        { response_body: { body: Buffer.from('upstream'), end_of_stream: true } },
        { response_trailers: {} },
      ]);
      t.equal(x.code, GrpcStatus.OK);
      t.same(x.received.map((m) => (m as { response?: string }).response), ['request_headers', 'response_headers', 'response_body', 'response_trailers']);
    });
    t.test('observability_mode messages get no reply and invoke nothing', async (t) => {
      const before = h.lambda.invocations.length;
      const r = await h.send({ path: '/lambda1', body: 'a=1', observabilityMode: true, chunkSize: 2 });
      t.same(r.received, []);
      t.equal(r.grpcCode, GrpcStatus.OK);
      t.equal(h.lambda.invocations.length, before);
    });
  });

  t.test('protocol errors end that stream with a gRPC status naming the problem; the server stays up', async (t) => {
    const headers = { request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/lambda1') }] }, end_of_stream: false } };
    const cases: Array<[string, Parameters<typeof h.envoy.sendRaw>[0], number, RegExp]> = [
      ['a body before headers', [{ request_body: { body: Buffer.from('x'), end_of_stream: true } }], GrpcStatus.FAILED_PRECONDITION, /request_body received before request_headers/],
      ['two headers messages', [headers, headers], GrpcStatus.FAILED_PRECONDITION, /request_headers received twice/],
      ['an empty oneof', [{}], GrpcStatus.INVALID_ARGUMENT, /empty oneof/],
      ['response_headers before the request was answered', [headers, { response_headers: {} }], GrpcStatus.FAILED_PRECONDITION, /response_headers received before/],
    ];
    for (const [name, messages, code, details] of cases) {
      const x = await h.envoy.sendRaw(messages);
      t.equal(x.code, code, `${name}: gRPC status`);
      t.match(x.details, details, `${name}: message`);
    }
    t.ok(h.logs.some((l) => l.msg === 'ext_proc protocol error'), 'logged at warn');
    const r = await h.send({ path: '/lambda1' });
    t.equal(r.status, 200, 'the next stream is served');
  });
});

t.test('allow_mode_override: a body Envoy would not send is asked for with mode_override BUFFERED', async (t) => {
  const h = await startHarness({ config: `allow_mode_override: true\nroutes:\n${routes}`, lambda: { functions } });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/lambda1', body: 'a=3', bodyMode: 'NONE', allowModeOverride: true, headers: [['content-type', 'application/x-www-form-urlencoded']] });
  t.equal(r.received[0]?.mode_override?.request_body_mode, 2, 'mode_override asks for BUFFERED');
  t.ok(r.received[0]?.request_headers, 'in a headers answer');
  t.equal(r.status, 200);
  t.same(h.lambda.invocations.at(-1)?.json(), { a: '3' });
});
