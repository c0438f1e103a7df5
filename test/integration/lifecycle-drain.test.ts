// SIGTERM while requests are in flight: every one gets its real answer, new
// streams are refused, the process exits 0 within the drain timeout.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { startCli } from '../support/cli';
import { eventually } from '../support/eventually';
import { watchHealth } from '../support/health-client';

t.test('drains 200 in-flight requests on SIGTERM, refuses new streams, exits 0', async (t) => {
  // Every call is held until the test releases it, so all 200 are in flight at SIGTERM however slowly they arrive.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const lambda = await startFakeLambda({
    secrets: { AKIDDRAIN: 'drain-secret' },
    functions: {
      '*': async () => {
        await held;
        return { body: '{"done":true}' };
      },
    },
  });
  t.teardown(() => release());
  t.teardown(() => lambda.close());
  const file = join(mkdtempSync(join(tmpdir(), 'lambda-extproc-drain-')), 'drain.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
drain_timeout: 10000
routes:
  - name: slow
    match: { path_prefix: /slow }
    function_name: Slow
    aws_region: us-east-1
    host: 127.0.0.1
    port: ${lambda.port}
    disable_https: true
    aws_key: AKIDDRAIN
    aws_secret: drain-secret
`,
  );
  const cli = await startCli(['--config', file]);
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  const inFlight = Array.from({ length: 200 }, (_, i) => envoy.send({ path: `/slow/${i}` }));
  await eventually(() => lambda.invocations.length >= 200, 30_000);
  t.equal(lambda.invocations.length, 200, 'all 200 requests reached Lambda before SIGTERM');
  const health = watchHealth(`127.0.0.1:${cli.port}`);
  t.teardown(() => health.stop());
  await eventually(() => health.seen.length > 0);
  t.same(health.seen, ['SERVING'], 'health is SERVING before the signal');
  const exited = cli.stop('SIGTERM');
  // NOT_SERVING and the refusal of new streams are set together: once seen, the drain has begun.
  await eventually(() => health.seen.includes('NOT_SERVING'));
  const late = await envoy.send({ path: '/slow/late' });
  t.same(health.seen, ['SERVING', 'NOT_SERVING'], 'health turns NOT_SERVING as draining starts');
  t.equal(late.outcome, 'error', 'a stream opened while draining is refused');
  t.equal(late.grpcCode, 14, 'with UNAVAILABLE, so Envoy fails over per failure_mode_allow');
  release();
  const results = await Promise.all(inFlight);
  t.equal(results.filter((r) => r.status === 200 && r.body.toString() === '{"done":true}').length, 200, 'sent = answered: every in-flight request got its real answer');
  t.equal(await exited, 0, 'exit 0');
  t.match(cli.output(), /"result":"drained"/, 'the drain finished by itself, not forced at drain_timeout');
  t.equal(lambda.invocations.length, 200, 'the refused request never reached Lambda');
  t.match(cli.output(), /"msg":"draining"/);
});
