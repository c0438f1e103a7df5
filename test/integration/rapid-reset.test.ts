// Envoy resets the ext_proc stream after every immediate response (or, with
// ext_proc_graceful_grpc_close, half-closes and waits for the status). 3,000
// requests over one HTTP/2 connection, 16 at a time, far above nghttp2's
// refill rate of 33 resets per second, counted the way Envoy's connection sees them.
import t, { type Test } from 'tap';
import { startHarness, fakeRoute } from '../support/harness';
import { runH2Load, type H2LoadResult } from '../support/h2-ext-proc-client';
import { supportsResetLimits } from '../../src/extproc/reset-limits';

const TOTAL = 3000;
const CONCURRENCY = 16;
const NGHTTP2_INTERNAL_ERROR = 2;

const config = `
routes:
${fakeRoute('lambda1', `match: { path_prefix: /lambda1 }
function_name: MyLambda`)}
`;

async function load(t: Test, closeMode: 'reset' | 'graceful'): Promise<H2LoadResult> {
  const h = await startHarness({ config, lambda: { functions: { MyLambda: () => ({ body: '{"response": "yes"}' }) } } });
  t.teardown(() => h.close());
  const result = await runH2Load({ address: `127.0.0.1:${h.app.port}`, total: TOTAL, concurrency: CONCURRENCY, closeMode, path: '/lambda1' });
  t.comment(`${closeMode} on Node ${process.version}: ${result.ok} ok, ${result.failed} failed, ${result.goaways.length} GOAWAY, ${result.connections} connection(s), ${result.requestsPerSecond} req/s`);
  t.ok(result.requestsPerSecond > 100, `rate ${result.requestsPerSecond}/s is well above 33/s`);
  t.equal(result.ok + result.failed, TOTAL, 'every request accounted for');
  return result;
}

t.test('graceful close (ext_proc_graceful_grpc_close): 3000 requests on one connection, no failure, no GOAWAY', async (t) => {
  const r = await load(t, 'graceful');
  t.equal(r.failed, 0, r.failures.join('; '));
  t.same(r.goaways, [], 'no GOAWAY');
  t.equal(r.connections, 1, 'one connection throughout');
  t.same(r.statuses, { 200: TOTAL });
});

if (supportsResetLimits(process.version)) {
  t.test('reset close (Envoy default) with the raised reset limit: 3000 requests, no failure, no GOAWAY', async (t) => {
    const r = await load(t, 'reset');
    t.equal(r.failed, 0, r.failures.join('; '));
    t.same(r.goaways, [], 'no GOAWAY');
    t.equal(r.connections, 1);
  });
} else {
  // Node < 22.10 cannot raise nghttp2's limit: this pins down why envoy.yaml
  // turns on graceful close and the image runs Node 22.
  t.test(`reset close on Node ${process.version}: nghttp2 sends GOAWAY(INTERNAL_ERROR) after its 1000-reset burst`, async (t) => {
    const r = await load(t, 'reset');
    t.ok(r.goaways.length >= 1, 'at least one GOAWAY');
    for (const goaway of r.goaways) t.equal(goaway.code, NGHTTP2_INTERNAL_ERROR, 'rapid-reset GOAWAY');
    t.ok((r.goaways[0]?.atRequest ?? 0) >= 1000, `first GOAWAY after the burst (at request ${r.goaways[0]?.atRequest})`);
    t.ok(r.failed <= r.goaways.length * CONCURRENCY, 'only streams in flight at a GOAWAY fail');
  });
}
