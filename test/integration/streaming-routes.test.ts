// invoke_mode RESPONSE_STREAM through the real server: Envoy in
// FULL_DUPLEX_STREAMED gets streamed_immediate_response as the function
// writes; failures before the headers are the buffered answers, after them a
// non-OK gRPC status; BUFFERED or no protocol_config collect one answer;
// buffered routes are served as before.
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { createEnvoyStreamClient, type EnvoyStreamClient, type StreamExchange } from '../envoy-stream-client';
import { httpIntegrationPrelude, startFakeStreamingLambda, type FakeStreamingLambda, type StreamingFunction, type StreamWriter } from '../fakes/lambda-stream';
import { fakeRoute, KEY_ID, SECRET, startHarness, type Harness } from '../support/harness';

const MiB = 1024 * 1024;

interface Rig {
  readonly h: Harness;
  readonly fake: FakeStreamingLambda;
  readonly client: EnvoyStreamClient;
  exchange(request: StreamExchange): ReturnType<EnvoyStreamClient['exchange']>;
  metrics(): Promise<string>;
}

/** A streaming route per function (path /<function>), plus `extra` routes; `{{stream}}` is the streaming fake's port. */
async function rig(t: Test, functions: Record<string, StreamingFunction>, options: { routeExtra?: string; extraRoutes?: string; lambda?: Parameters<typeof startHarness>[0]['lambda'] } = {}): Promise<Rig> {
  const fake = await startFakeStreamingLambda({ secrets: { [KEY_ID]: SECRET }, functions });
  const routes = Object.keys(functions)
    .map((name) =>
      fakeRoute(
        name,
        `match: { path: /${name} }
function_name: ${name}
invoke_mode: RESPONSE_STREAM
forward_request_body: true
base64_encode_body: false
${options.routeExtra ?? ''}`,
      ).replaceAll('{{lambda}}', String(fake.port)),
    )
    .join('');
  const extra = (options.extraRoutes ?? '').replaceAll('{{stream}}', String(fake.port));
  const h = await startHarness({ config: `envoy_message_timeout: 200\nroutes:\n${routes}${extra}`, lambda: options.lambda });
  const client = createEnvoyStreamClient(`127.0.0.1:${h.app.port}`);
  t.teardown(async () => {
    client.close();
    await h.close();
    await fake.close();
  });
  return { h, fake, client, exchange: (request) => client.exchange(request), metrics: () => h.app.metrics.render() };
}

/** A route to the streaming fake (fakeRoute points at the buffered one). */
function streamRoute(name: string, extra: string): string {
  return fakeRoute(name, `invoke_mode: RESPONSE_STREAM\n${extra}`).replace('port: {{lambda}}', 'port: {{stream}}');
}

function requestLine(h: Harness, path: string): Record<string, unknown> | undefined {
  return h.logs.find((line) => line.path === path && (line.msg === 'request' || line.msg === 'request failed'));
}

/** Resolves once `check` holds (polled): for log lines written after the client's answer. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('chunks reach the client as the function writes them', async (t) => {
  let release: () => void = () => undefined;
  const clientHasA = new Promise<void>((resolve) => (release = resolve));
  const order: string[] = [];
  const r = await rig(t, {
    chat: {
      contentType: 'text/plain',
      run: async (w) => {
        await w.write('a');
        await clientHasA;
        order.push('function writes b');
        await w.write('b');
      },
    },
  });
  const reply = await r.exchange({
    path: '/chat',
    body: ['{"q":', '"hi"}'],
    onChunk: (_index, chunk) => {
      order.push(`client got ${chunk.toString() || '(end)'}`);
      if (chunk.toString() === 'a') release();
    },
  });
  t.same(order, ['client got a', 'function writes b', 'client got b', 'client got (end)'], 'the client had "a" before the function wrote "b"');
  t.equal(reply.outcome, 'streamed', `streamed (grpc ${reply.grpcCode} ${reply.grpcDetails})`);
  t.equal(reply.status, 200);
  t.same(reply.headerValues('content-type'), ['text/plain']);
  t.equal(reply.headerValues('x-amzn-requestid').length, 1);
  t.same(reply.chunks.map((c) => c.bytes.toString()), ['a', 'b', ''], 'one body message per chunk, then an empty one with end_of_stream');
  // Nothing but streamed_immediate_response: no answer to request_headers or the body chunks.
  t.same(
    reply.received.map((m) => m.response ?? 'override'),
    reply.received.map((m) => (m.override_message_timeout !== undefined && m.response === undefined ? 'override' : 'streamed_immediate_response')),
  );
  t.notOk(
    reply.received.some((m) => m.response !== undefined && m.response !== 'streamed_immediate_response'),
    'no CONTINUE or other answer to the request messages',
  );
  const invocation = r.fake.invocations[0];
  t.equal(r.fake.invocations.length, 1);
  t.equal((JSON.parse(invocation?.payload.toString() ?? '{}') as { request_body?: string }).request_body, '{"q":"hi"}', 'the FULL_DUPLEX body chunks were collected into one payload');
  t.equal(invocation?.invocationType, 'RequestResponse');
  await until(() => requestLine(r.h, '/chat') !== undefined, 'the request line');
  t.match(requestLine(r.h, '/chat'), { msg: 'request', status: 200, streamed_bytes: 2, route: 'chat' });
  t.notOk('cause' in (requestLine(r.h, '/chat') ?? {}));
  t.match(await r.metrics(), /lambda_extproc_requests_total\{route="chat",status="200",cause="none"\} 1/);
});

t.test('a body that ends with trailers, and a bodiless request invoked on its headers', async (t) => {
  const r = await rig(t, { echo: { run: async (w, invocation) => void (await w.write(`got:${(JSON.parse(invocation.payload.toString()) as { request_body?: string }).request_body ?? '(none)'}`)) } });
  const trailed = await r.exchange({ path: '/echo', body: ['x', 'y'], trailers: true });
  t.equal(trailed.outcome, 'streamed', `streamed (grpc ${trailed.grpcCode} ${trailed.grpcDetails})`);
  t.equal(trailed.body.toString(), 'got:xy', 'invoked on request_trailers with the whole body');
  t.notOk(trailed.received.some((m) => m.response !== undefined && m.response !== 'streamed_immediate_response'), 'request_trailers got no answer');
  const bodiless = await r.exchange({ path: '/echo' });
  t.equal(bodiless.outcome, 'streamed');
  t.equal(bodiless.body.toString(), 'got:(none)');
});

t.test('proxy integration: the HTTP-integration prelude gives status, headers and cookies', async (t) => {
  const prelude = httpIntegrationPrelude({ statusCode: 201, headers: { 'content-type': 'text/event-stream', 'x-custom': 'yes' }, cookies: ['a=1', 'b=2'] });
  const r = await rig(
    t,
    {
      sse: {
        contentType: 'application/vnd.awslambda.http-integration-response',
        run: async (w) => {
          // The prelude split over two chunks, the second one carrying the first body bytes.
          await w.write(prelude.subarray(0, 10));
          await w.write(Buffer.concat([prelude.subarray(10), Buffer.from('data: 1\n\n')]));
          await w.write('data: 2\n\n');
        },
      },
    },
    { routeExtra: 'is_proxy_integration: true' },
  );
  const reply = await r.exchange({ path: '/sse' });
  t.equal(reply.outcome, 'streamed');
  t.equal(reply.status, 201);
  t.same(reply.headerValues('set-cookie'), ['a=1', 'b=2'], 'one header line per cookie');
  t.same(reply.headerValues('content-type'), ['text/event-stream']);
  t.same(reply.headerValues('x-custom'), ['yes']);
  t.equal(reply.body.toString(), 'data: 1\n\ndata: 2\n\n');
  await until(() => requestLine(r.h, '/sse') !== undefined, 'the request line');
  t.match(requestLine(r.h, '/sse'), { status: 201 });
});

t.test('failures before the first byte are the buffered route answers (one ImmediateResponse)', async (t) => {
  const preludeClosed: Array<Promise<void>> = [];
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const r = await rig(
    t,
    {
      throttled: { apiError: { status: 429, type: 'TooManyRequestsException', message: 'Rate exceeded', headers: { 'Retry-After': '3' } } },
      early: { run: (w) => w.fail('Unhandled', '{"errorMessage":"early"}') },
      badPrelude: {
        contentType: 'application/vnd.awslambda.http-integration-response',
        run: async (w) => {
          await w.write('{"statusCode":"x"}\0\0\0\0\0\0\0\0body');
          // Holds the stream open: only the sidecar closing it ends the call.
          preludeClosed.push(w.closed);
          await w.closed;
        },
      },
      rawPrelude: { contentType: 'application/vnd.awslambda.http-integration-response', run: async (w) => void (await w.write('{"statusCode":"x"}\0\0\0\0\0\0\0\0body')) },
      empty: { contentType: 'text/plain', run: () => undefined },
      slow: { run: (w) => w.closed },
    },
    {
      routeExtra: 'timeout: 600',
      extraRoutes: [
        streamRoute('proxyEarly', 'match: { path: /proxyEarly }\nfunction_name: early\nis_proxy_integration: true'),
        streamRoute('proxyBadPrelude', 'match: { path: /proxyBadPrelude }\nfunction_name: badPrelude\nis_proxy_integration: true'),
        streamRoute('missing', 'match: { path: /missing }\nfunction_name: NoSuchFunction'),
        streamRoute('unreachable', 'match: { path: /unreachable }\nfunction_name: early').replace('port: {{stream}}', `port: ${closedPort}`),
      ].join(''),
    },
  );
  t.test('429 from Lambda: 429 lambda_throttled', async (t) => {
    const reply = await r.exchange({ path: '/throttled' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 429);
    t.equal(reply.received.at(-1)?.immediate_response !== undefined, true);
    await until(() => requestLine(r.h, '/throttled') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/throttled'), { status: 429, cause: 'lambda_throttled' });
  });
  t.test('a function error before any chunk: 200 with the error document, as a buffered route', async (t) => {
    const reply = await r.exchange({ path: '/early' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 200);
    t.equal(reply.body.toString(), '{"errorMessage":"early"}');
  });
  t.test('a bad prelude on a proxy route: 502 bad_function_output with the reason', async (t) => {
    const reply = await r.exchange({ path: '/proxyBadPrelude' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
    t.match(reply.body.toString(), /statusCode must be an integer/);
    await until(() => requestLine(r.h, '/proxyBadPrelude') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/proxyBadPrelude'), { status: 502, cause: 'bad_function_output' });
    await preludeClosed[0];
    t.pass('the sidecar closed the Lambda stream it would not read');
  });
  t.test('the same stream on a plain route passes through', async (t) => {
    const reply = await r.exchange({ path: '/rawPrelude' });
    t.equal(reply.outcome, 'streamed');
    t.equal(reply.status, 200);
    t.equal(reply.body.toString(), '{"statusCode":"x"}\0\0\0\0\0\0\0\0body');
  });
  t.test('a function that writes nothing: one empty answer', async (t) => {
    const reply = await r.exchange({ path: '/empty' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 200);
    t.equal(reply.body.length, 0);
  });
  t.test("the route's timeout before the first byte: 504, the Lambda request abandoned", async (t) => {
    const reply = await r.exchange({ path: '/slow' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 504);
    t.ok(
      reply.received.some((m) => m.override_message_timeout !== undefined),
      'override_message_timeout kept Envoy waiting past its 200 ms message_timeout',
    );
    await until(() => requestLine(r.h, '/slow') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/slow'), { status: 504, cause: 'lambda_timeout' });
  });
  t.test('an unknown function (404 from Lambda): 502 lambda_service', async (t) => {
    const reply = await r.exchange({ path: '/missing' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
  });
  t.test('a request body over max_message_bytes: 413 before any invocation', async (t) => {
    const before = r.fake.invocations.length;
    const reply = await r.exchange({ path: '/early', body: [Buffer.alloc(3 * MiB), Buffer.alloc(2 * MiB)] });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 413);
    t.equal(r.fake.invocations.length, before, 'Lambda was not called');
  });
  t.test('an unreachable endpoint: 502 lambda_unreachable', async (t) => {
    const reply = await r.exchange({ path: '/unreachable' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
    await until(() => requestLine(r.h, '/unreachable') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/unreachable'), { status: 502, cause: 'lambda_unreachable' });
  });
  t.test('proxy integration: a function error before any chunk is 502, as buffered', async (t) => {
    const reply = await r.exchange({ path: '/proxyEarly' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
  });
});

t.test('failures after the headers end the gRPC stream non-OK (never end_of_stream), logged and counted with their cause', async (t) => {
  const r = await rig(
    t,
    {
      midFail: { run: async (w) => (await w.write('partial'), w.fail('Unhandled', '{"errorMessage":"boom"}')) },
      midCut: { run: async (w) => (await w.write('partial'), w.cut()) },
      midSlow: { run: async (w) => (await w.write('partial'), await w.closed) },
    },
    { routeExtra: 'timeout: 800' },
  );
  const cases = [
    { path: '/midFail', cause: 'function_error' },
    { path: '/midCut', cause: 'lambda_unreachable' },
    { path: '/midSlow', cause: 'lambda_timeout' },
  ];
  for (const { path, cause } of cases) {
    t.test(`${path}: ${cause}`, async (t) => {
      const reply = await r.exchange({ path });
      t.equal(reply.outcome, 'reset', 'the client response is cut after its headers');
      t.equal(reply.status, 200, 'the client had the headers');
      t.equal(reply.body.toString(), 'partial');
      t.equal(reply.grpcCode, 14, 'UNAVAILABLE');
      t.match(reply.grpcDetails, new RegExp(`response stream failed after 7 bytes \\(${cause}\\)`));
      t.notOk(reply.received.some((m) => m.streamed_immediate_response?.body_response?.end_of_stream === true), 'no end_of_stream was sent');
      await until(() => requestLine(r.h, path) !== undefined, 'the request line');
      t.match(requestLine(r.h, path), { level: 'error', msg: 'request failed', status: 200, cause, streamed_bytes: 7 });
      t.match(await r.metrics(), new RegExp(`lambda_extproc_requests_total\\{route="${path.slice(1)}",status="200",cause="${cause}"\\} 1`));
    });
  }
});

t.test('a client that goes away cancels the Lambda request', async (t) => {
  const closed: Record<string, Promise<void>> = {};
  let wroteFirst: () => void = () => undefined;
  const firstWritten = new Promise<void>((resolve) => (wroteFirst = resolve));
  let invoked: () => void = () => undefined;
  const hanging = new Promise<void>((resolve) => (invoked = resolve));
  const r = await rig(t, {
    endless: {
      run: async (w) => {
        closed.endless = w.closed;
        await w.write('first');
        wroteFirst();
        for (;;) await w.write(Buffer.alloc(16 * 1024, 0x61));
      },
    },
    silent: {
      run: async (w) => {
        closed.silent = w.closed;
        invoked();
        await w.closed;
      },
    },
  });
  t.test('mid-stream', async (t) => {
    const reply = await r.exchange({ path: '/endless', cancelAfterChunks: 3 });
    t.equal(reply.outcome, 'cancelled');
    await firstWritten;
    await closed.endless;
    t.pass('the Lambda connection was closed');
    await until(() => r.h.logs.some((l) => l.msg === 'request cancelled by Envoy while its response was streaming'), 'the cancel line');
    const line = r.h.logs.find((l) => l.msg === 'request cancelled by Envoy while its response was streaming');
    t.match(line, { route: 'endless' });
    t.ok(Number(line?.streamed_bytes) >= 5, `streamed_bytes ${String(line?.streamed_bytes)}`);
    t.match(await r.metrics(), /lambda_extproc_requests_total\{route="endless",status="499",cause="cancelled"\} 1/);
    t.notOk(requestLine(r.h, '/endless'), 'no request line as if it had been answered');
  });
  t.test('before the first byte', async (t) => {
    const reply = await r.exchange({ path: '/silent', cancelWhen: hanging });
    t.equal(reply.outcome, 'cancelled');
    await closed.silent;
    t.pass('the Lambda connection was closed');
    await until(() => r.h.logs.some((l) => l.msg === 'request cancelled by Envoy before the answer'), 'the cancel line');
    t.match(await r.metrics(), /lambda_extproc_requests_total\{route="silent",status="499",cause="cancelled"\} 1/);
  });
});

t.test('Envoy that cannot take a streamed answer gets one ImmediateResponse', async (t) => {
  let hugeWriter: StreamWriter | undefined;
  const r = await rig(t, {
    ab: {
      contentType: 'text/plain',
      run: async (w, invocation) => {
        await w.write('a');
        await w.write(`b:${(JSON.parse(invocation.payload.toString()) as { request_body?: string }).request_body ?? ''}`);
      },
    },
    huge: {
      run: async (w) => {
        hugeWriter = w;
        for (let i = 0; i < 16 * 16; i++) await w.write(Buffer.alloc(64 * 1024, 0x68));
      },
    },
    midFail: { run: async (w) => (await w.write('partial'), w.fail('Unhandled', '{"errorMessage":"boom"}')) },
  });
  // The Envoy stand-in of buffered routes: headers answered CONTINUE, then the whole body.
  for (const sendProtocolConfig of [true, false]) {
    t.test(sendProtocolConfig ? 'protocol_config says BUFFERED' : 'no protocol_config (Envoy before 1.33)', async (t) => {
      const reply = await r.h.send({ path: '/ab', body: 'xy', bodyMode: 'BUFFERED', sendProtocolConfig });
      t.equal(reply.outcome, 'immediate');
      t.equal(reply.status, 200);
      t.equal(reply.body.toString(), 'ab:xy', 'the whole stream in one answer');
      t.same(reply.headerValues('content-type'), ['text/plain']);
      t.equal(reply.received.filter((m) => m.immediate_response !== undefined).length, 1, 'one ImmediateResponse');
      t.notOk(reply.received.some((m) => 'streamed_immediate_response' in m), 'nothing streamed');
    });
  }
  t.test('a stream past the answer limit: 502 lambda_response_too_large, the Lambda stream closed', async (t) => {
    const reply = await r.h.send({ path: '/huge' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
    await until(() => requestLine(r.h, '/huge') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/huge'), { status: 502, cause: 'lambda_response_too_large' });
    await hugeWriter?.closed;
    t.ok((hugeWriter?.bytesWritten ?? 0) < 16 * MiB, `the function was stopped after ${((hugeWriter?.bytesWritten ?? 0) / MiB).toFixed(1)} MiB of 16 MiB`);
  });
  t.test('a function failing after some bytes: 502 function_error', async (t) => {
    const reply = await r.h.send({ path: '/midFail', sendProtocolConfig: false });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 502);
    await until(() => requestLine(r.h, '/midFail') !== undefined, 'the request line');
    t.match(requestLine(r.h, '/midFail'), { status: 502, cause: 'function_error' });
  });
});

t.test('buffered routes on the same server are served as before', async (t) => {
  const r = await rig(t, { streamed: { run: async (w) => void (await w.write('streamed')) } }, {
    extraRoutes: fakeRoute('plain', 'match: { path: /plain }\nfunction_name: Plain'),
    lambda: { functions: { Plain: () => ({ body: '{"ok":true}' }) } },
  });
  const plain = await r.h.send({ path: '/plain' });
  t.equal(plain.status, 200);
  t.equal(plain.body.toString(), '{"ok":true}');
  t.equal(r.h.lambda.invocations.length, 1, 'Invoke on the buffered route');
  t.equal(r.fake.invocations.length, 0, 'no InvokeWithResponseStream for it');
  const streamed = await r.exchange({ path: '/streamed' });
  t.equal(streamed.outcome, 'streamed');
  t.equal(streamed.body.toString(), 'streamed');
});

t.test('a streaming route with proxy_url is not served: 500, cause config, Lambda not called', async (t) => {
  const r = await rig(t, { direct: { run: async (w) => void (await w.write('x')) } }, { extraRoutes: streamRoute('proxied', 'match: { path: /proxied }\nfunction_name: direct\nproxy_url: http://127.0.0.1:9') });
  const reply = await r.exchange({ path: '/proxied' });
  t.equal(reply.outcome, 'immediate');
  t.equal(reply.status, 500);
  t.equal(r.fake.invocations.length, 0);
  await until(() => requestLine(r.h, '/proxied') !== undefined, 'the request line');
  t.match(requestLine(r.h, '/proxied'), { status: 500, cause: 'config', error: /invoke_mode RESPONSE_STREAM does not support proxy_url/ });
});
