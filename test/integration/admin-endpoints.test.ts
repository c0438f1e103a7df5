import { request } from 'node:http';
import t from 'tap';
import { Writable } from 'node:stream';
import { startApp } from '../../src/app';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/observability/logger';
import { eventually } from '../support/eventually';
import { checkHealth, watchHealth } from '../support/health-client';
import { fakeRoute, startHarness } from '../support/harness';

interface Answer {
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // agent: false, so a closed listener shows as refused, not as a dead pooled socket.
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const CONFIG = `admin:
  listen: 127.0.0.1:0
routes:
${fakeRoute('slow', 'match: { path_prefix: /slow }\nfunction_name: slow')}`;

t.test('admin HTTP is off unless admin.listen is set', async (t) => {
  const h = await startHarness({ config: `routes:\n${fakeRoute('a', 'match: { path_prefix: /a }\nfunction_name: a')}` });
  t.teardown(() => h.close());
  t.equal(h.app.adminPort, undefined);
});

t.test('serves /healthz, /readyz and /metrics, and nothing else', async (t) => {
  const h = await startHarness({ config: CONFIG });
  t.teardown(() => h.close());
  const port = h.app.adminPort ?? 0;
  t.ok(port > 0, 'admin port bound');
  t.same(await get(port, '/healthz'), { status: 200, type: 'text/plain', body: 'ok\n' });
  t.same(await get(port, '/readyz'), { status: 200, type: 'text/plain', body: 'ready\n' });
  const metrics = await get(port, '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.type, /^text\/plain; version=0\.0\.4/);
  t.match(metrics.body, /# TYPE lambda_extproc_requests_total counter/);
  t.equal((await get(port, '/nope')).status, 404);
  t.equal((await get(port, '/metrics', 'POST')).status, 405);
  t.equal((await get(port, '/healthz', 'HEAD')).status, 200);
});

t.test('readiness and gRPC health flip to not serving while draining, liveness stays up', async (t) => {
  // The function answers when released, so the drain is still waiting on it whatever the machine's speed.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const h = await startHarness({
    config: CONFIG,
    lambda: {
      functions: {
        slow: async () => {
          await held;
          return { body: '{"slow":true}' };
        },
      },
    },
  });
  t.teardown(() => release());
  t.teardown(() => h.close());
  const port = h.app.adminPort ?? 0;
  const grpc = `127.0.0.1:${h.app.port}`;
  t.equal(await checkHealth(grpc), 'SERVING');
  // A draining gRPC server takes no new calls, so an open Watch is how Envoy and kubelet see the flip.
  const watch = watchHealth(grpc);
  t.teardown(() => watch.stop());
  const inFlight = h.send({ path: '/slow' });
  // Wait until the invocation is at the fake Lambda, so the drain has something to wait for.
  await eventually(() => h.lambda.invocations.length > 0);
  t.equal(h.lambda.invocations.length, 1, 'request in flight');
  const stopped = h.app.stop(5000);
  const during = await get(port, '/readyz');
  t.equal(during.status, 503);
  t.equal(during.body, 'not ready: draining\n');
  t.equal((await get(port, '/healthz')).status, 200, 'alive while draining');
  // The watch hears it over its own gRPC stream: wait for it rather than race the HTTP answers above.
  await eventually(() => watch.seen.includes('NOT_SERVING'));
  t.same(watch.seen, ['SERVING', 'NOT_SERVING']);
  release();
  const answer = await inFlight;
  t.equal(answer.status, 200, 'in-flight request finished');
  t.equal(answer.body.toString(), '{"slow":true}');
  t.equal(await stopped, 'drained');
  await t.rejects(get(port, '/healthz'), { code: 'ECONNREFUSED' }, 'admin listener closed after the drain');
});

t.test('a taken admin port fails the start with EADDRINUSE', async (t) => {
  const first = await startHarness({ config: CONFIG });
  t.teardown(() => first.close());
  const loaded = parseConfig(`listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:${first.app.adminPort}\nroutes:\n  - name: a\n    function_name: a\n`, {});
  if (!loaded.ok) throw new Error('test config invalid');
  const logger = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  await t.rejects(startApp(loaded.config, { env: {}, logger }), { code: 'EADDRINUSE' });
});
