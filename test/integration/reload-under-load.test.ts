import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import type { FakeLambda } from '../fakes/lambda';
import { fakeRoute, KEY_ID, SECRET, startHarness, type Harness } from '../support/harness';

const routeFor = (fn: string) => `routes:\n${fakeRoute('orders', `match: { path_prefix: /orders }\nfunction_name: ${fn}`)}`;

function configFor(h: Harness, fn: string): Config {
  const text = routeFor(fn).replaceAll('{{lambda}}', String(h.lambda.port)).replaceAll('{{key}}', KEY_ID).replaceAll('{{secret}}', SECRET);
  const loaded = parseConfig(text, {});
  if (!loaded.ok) throw new Error('test config invalid');
  return loaded.config;
}

// The fake's HTTP server, to count the TCP connections our Lambda clients open.
function countConnections(lambda: FakeLambda): { count(): number } {
  const server = (lambda as FakeLambda & { server?: Server }).server;
  if (server === undefined) throw new Error('fake Lambda exposes no server');
  let connections = 0;
  server.on('connection', () => connections++);
  return { count: () => connections };
}

async function runLoad(h: Harness, total: number, concurrency: number): Promise<Array<{ status: number; body: string; outcome: string }>> {
  const results: Array<{ status: number; body: string; outcome: string }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const r = await h.send({ path: '/orders' });
      results.push({ status: r.status, body: r.body.toString(), outcome: r.outcome });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

t.test('no request fails across 5 reloads under load; each answer comes from the old or the new function; Lambda connections are reused', async (t) => {
  const h = await startHarness({
    config: routeFor('fn-a'),
    lambda: { functions: { 'fn-a': () => ({ body: '"a"', delayMs: 10 }), 'fn-b': () => ({ body: '"b"', delayMs: 10 }) } },
  });
  t.teardown(() => h.close());
  const connections = countConnections(h.lambda);
  const concurrency = 16;
  const warm = await runLoad(h, concurrency * 2, concurrency);
  t.ok(warm.every((r) => r.status === 200));
  const afterWarmUp = connections.count();
  t.ok(afterWarmUp >= 1 && afterWarmUp <= concurrency, `warm-up opened ${afterWarmUp} connections`);

  const configs = [configFor(h, 'fn-b'), configFor(h, 'fn-a')];
  let reloads = 0;
  let reloadsDoneAt = 0;
  const reloading = (async () => {
    while (reloads < 5) {
      await new Promise((r) => setTimeout(r, 20));
      h.app.reload(configs[reloads % 2] as Config);
      reloads++;
    }
    reloadsDoneAt = performance.now();
  })();
  const results = await runLoad(h, 200, concurrency);
  const loadDoneAt = performance.now();
  await reloading;
  t.equal(reloads, 5);
  t.ok(reloadsDoneAt > 0 && reloadsDoneAt < loadDoneAt, 'all 5 reloads happened while requests were running');
  t.equal(results.length, 200);
  const failed = results.filter((r) => r.status !== 200 || r.outcome !== 'immediate');
  t.same(failed, [], 'no request failed');
  t.same([...new Set(results.map((r) => r.body))].sort(), ['"a"', '"b"'], 'answers came from the old and the new function, nothing else');
  const opened = connections.count() - afterWarmUp;
  t.ok(opened <= 4, `Lambda clients survived the reloads: ${opened} new TCP connections for 200 requests (a client per reload would open about ${concurrency} each)`);
  t.equal(h.logs.filter((l) => l.msg === 'config reloaded').length, 5);
});

t.test('an invalid file keeps the running config and logs every problem', async (t) => {
  const h = await startHarness({ config: routeFor('fn-a'), lambda: { functions: { 'fn-a': () => ({ body: '"a"' }) } } });
  t.teardown(() => h.close());
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-reload-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'routes:\n  - name: orders\n    function_name: fn-b\n    invocation_type: Sometimes\n    typo: 1\n');
  t.equal(h.app.reloadFile(file), false);
  const rejected = h.logs.find((l) => l.msg === 'config reload rejected; the previous config stays in force');
  t.ok(rejected, 'rejection logged');
  t.match(String(rejected?.summary), /routes\[0\]: unknown field 'typo'/);
  t.match(String(rejected?.summary), /routes\[0\]\.invocation_type:/);
  t.equal((rejected?.problems as unknown[]).length, 2, 'both problems listed');
  const r = await h.send({ path: '/orders' });
  t.equal(r.body.toString(), '"a"', 'still served by the old config');
});

t.test('a reload that changes listen warns that it needs a restart', async (t) => {
  const h = await startHarness({ config: routeFor('fn-a') });
  t.teardown(() => h.close());
  h.app.reload({ ...configFor(h, 'fn-a'), listen: '127.0.0.1:1' });
  const warning = h.logs.find((l) => l.msg === 'these config changes take effect only after a restart');
  t.same(warning?.fields, ['listen']);
});
