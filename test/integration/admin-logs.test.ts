import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger, isoTimeOncePerMs } from '../../src/observability/logger';
import { fakeRoute, startHarness } from '../support/harness';

t.test('one info line per request with route, function, method, path, status, latency, Lambda request id, trace id', async (t) => {
  const h = await startHarness({
    config: `routes:\n${fakeRoute('orders', 'match: { path_prefix: /orders }\nfunction_name: orders-fn')}${fakeRoute('busy', 'match: { path_prefix: /busy }\nfunction_name: busy-fn')}`,
    lambda: {
      functions: {
        'orders-fn': () => ({ body: '{"ok":true}' }),
        'busy-fn': () => ({ apiError: { status: 429, type: 'TooManyRequestsException', message: 'Rate exceeded' } }),
      },
    },
  });
  t.teardown(() => h.close());
  const ok = await h.send({ path: '/orders/7?x=1', method: 'POST', body: '{}' });
  t.equal(ok.status, 200);
  await h.send({ path: '/busy' });
  const lines = h.logs.filter((l) => l.msg === 'request' || l.msg === 'request failed');
  t.equal(lines.length, 2, 'exactly one line per request');
  const line = lines.find((l) => l.route === 'orders') ?? {};
  t.match(line, { level: 'info', route: 'orders', function: 'orders-fn', method: 'POST', path: '/orders/7', status: 200 }); // the query is left out (log_query)
  t.type(line.latency_ms, 'number');
  t.equal(line.lambda_request_id, ok.header('x-amzn-requestid'));
  t.equal(line.trace_id, ok.header('x-amzn-trace-id'));
  const busy = lines.find((l) => l.route === 'busy') ?? {};
  t.match(busy, { level: 'info', status: 429, cause: 'lambda_throttled' });
});

t.test('debug shows the ext_proc message sequence of a stream', async (t) => {
  const h = await startHarness({ config: `routes:\n${fakeRoute('a', 'match: { path_prefix: /a }\nfunction_name: a')}` });
  t.teardown(() => h.close());
  await h.send({ path: '/a', method: 'POST', body: 'hello' });
  const sequence = h.logs.filter((l) => l.msg === 'ext_proc message').map((l) => `${String(l.direction)} ${String(l.kind)}`);
  t.same(sequence, ['in request_headers', 'out request_headers', 'in request_body', 'out immediate_response']);
});

t.test('credential-bearing headers and secret fields are redacted wherever they sit', async (t) => {
  let out = '';
  const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) }));
  logger.info(
    {
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDTOPLEVEL/x, Signature=sig-top',
      headers: { authorization: 'Bearer hdr-secret', 'x-amz-security-token': 'session-hdr', cookie: 'sid=cookie-secret' },
      request: { headers: { 'x-api-key': 'deep-api-key', 'x-aws-ec2-metadata-token': 'imds-token' } },
      route: { name: 'r', aws_key: 'AKIDROUTEKEY', aws_secret: 'route-secret' },
      env: { AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-session' },
    },
    'something',
  );
  logger.flush();
  await new Promise((r) => setImmediate(r));
  for (const secret of ['Signature=sig-top', 'hdr-secret', 'session-hdr', 'cookie-secret', 'deep-api-key', 'imds-token', 'AKIDROUTEKEY', 'route-secret', 'env-secret', 'env-session']) {
    t.notOk(out.includes(secret), `${secret} redacted`);
  }
  const line = JSON.parse(out) as { route: { name: string; aws_secret: string } };
  t.equal(line.route.name, 'r', 'other fields kept');
  t.equal(line.route.aws_secret, '[redacted]');
});

t.test("log lines carry pino's ISO time, formatted once per millisecond", async (t) => {
  let clock = Date.UTC(2026, 10, 29, 10, 0, 0, 5);
  const stamp = isoTimeOncePerMs(() => clock);
  const first = stamp();
  t.equal(first, ',"time":"2026-11-29T10:00:00.005Z"');
  t.equal(stamp(), first, 'the same millisecond, the same text');
  clock += 1;
  t.equal(stamp(), ',"time":"2026-11-29T10:00:00.006Z"', 'the next millisecond, the next text');
  let out = '';
  const before = Date.now();
  const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) }));
  logger.info('one');
  logger.flush();
  await new Promise((r) => setImmediate(r));
  const time = Date.parse((JSON.parse(out) as { time: string }).time);
  t.ok(time >= before && time <= Date.now(), 'a real line is stamped with the current time');
});
