// raise_reset_limits is honoured end to end: with `never` a loopback listener
// keeps nghttp2's rapid-reset protection (Envoy's reset after each answer then
// meets GOAWAY past the 1000-reset burst), and the start log says which applies.
// The raised case under the same load is test/integration/rapid-reset.test.ts.
import t from 'tap';
import { startHarness, fakeRoute } from '../support/harness';
import { runH2Load } from '../support/h2-ext-proc-client';

const NGHTTP2_INTERNAL_ERROR = 2;
const TOTAL = 2200;
const routes = `routes:
${fakeRoute('lambda1', `match: { path_prefix: /lambda1 }
function_name: MyLambda`)}
`;
const functions = { MyLambda: () => ({ body: '"yes"' }) };

t.test('raise_reset_limits: never on a loopback listener keeps the limit: GOAWAY(INTERNAL_ERROR) after the burst', async (t) => {
  const h = await startHarness({ config: `raise_reset_limits: never\n${routes}`, lambda: { functions } });
  t.teardown(() => h.close());
  const line = h.logs.find((l) => l.raise_reset_limits === 'never');
  t.equal(line?.level, 'info', 'logged at info');
  t.equal(line?.reset_limits_raised, false);
  t.match(String(line?.msg), /kept at its default \(raise_reset_limits: never\).*ext_proc_graceful_grpc_close/);
  const r = await runH2Load({ address: `127.0.0.1:${h.app.port}`, total: TOTAL, concurrency: 16, closeMode: 'reset', path: '/lambda1' });
  t.comment(`${r.ok} ok, ${r.failed} failed, ${r.goaways.length} GOAWAY, ${r.requestsPerSecond} req/s`);
  // nghttp2 allows a burst of 1000 resets and adds 33 per second.
  const allowed = 1000 + 33 * (r.durationMs / 1000);
  t.ok(TOTAL > allowed, `${TOTAL} resets exceed the ${Math.round(allowed)} nghttp2 allows in ${r.durationMs} ms`);
  t.ok(r.goaways.length >= 1, 'at least one GOAWAY');
  for (const goaway of r.goaways) t.equal(goaway.code, NGHTTP2_INTERNAL_ERROR, 'rapid-reset GOAWAY');
});

t.test('raise_reset_limits: auto on a loopback listener logs that the limit is raised, and no warning', async (t) => {
  const h = await startHarness({ config: routes, lambda: { functions } });
  t.teardown(() => h.close());
  const line = h.logs.find((l) => l.raise_reset_limits === 'auto');
  t.equal(line?.level, 'info');
  t.equal(line?.reset_limits_raised, true);
  t.match(String(line?.msg), /raised .*loopback listener/);
  t.notOk(h.logs.some((l) => l.level === 'warn'), 'no warning at start');
});
