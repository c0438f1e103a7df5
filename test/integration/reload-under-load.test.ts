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

interface LoadResult {
  readonly status: number;
  readonly body: string;
  readonly outcome: string;
  /** Reloads done when the request was sent and when its answer came. */
  readonly sentAfter: number;
  readonly answeredAfter: number;
}

/** `total` requests from `concurrency` workers; `afterAnswer` runs as each answer comes, with the requests still in flight. */
async function runLoad(h: Harness, total: number, concurrency: number, reloads: () => number = () => 0, afterAnswer: (answered: number, inFlight: number) => void = () => undefined): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      const sentAfter = reloads();
      const r = await h.send({ path: '/orders' });
      results.push({ status: r.status, body: r.body.toString(), outcome: r.outcome, sentAfter, answeredAfter: reloads() });
      afterAnswer(results.length, sent - results.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

t.test('no request fails across 5 reloads under load; each answer comes from the function in force; no new Lambda connection', async (t) => {
  const concurrency = 16;
  // Warm-up: the function answers once all 16 calls are at the fake, so the pool holds exactly 16 connections.
  let arrived = 0;
  let releaseWarmUp: () => void = () => undefined;
  const warmUpHeld = new Promise<void>((resolve) => (releaseWarmUp = resolve));
  const h = await startHarness({
    config: routeFor('fn-a'),
    lambda: {
      functions: {
        'fn-a': async () => {
          if (++arrived === concurrency) releaseWarmUp();
          await warmUpHeld;
          return { body: '"a"', delayMs: 10 };
        },
        'fn-b': () => ({ body: '"b"', delayMs: 10 }),
      },
    },
  });
  t.teardown(() => h.close());
  const connections = countConnections(h.lambda);
  const warm = await runLoad(h, concurrency, concurrency);
  t.ok(warm.every((r) => r.status === 200));
  const afterWarmUp = connections.count();
  t.equal(afterWarmUp, concurrency, `warm-up opened one connection per concurrent call`);

  // Reloads at fixed points of the load (after answers 30, 60, … 150 of 200), so each one happens with requests in flight.
  const functionAfter = (reloads: number): string => (reloads % 2 === 0 ? '"a"' : '"b"');
  const configs = [configFor(h, 'fn-b'), configFor(h, 'fn-a')];
  let reloads = 0;
  const inFlightAtReload: number[] = [];
  const results = await runLoad(h, 200, concurrency, () => reloads, (answered, inFlight) => {
    if (answered % 30 !== 0 || reloads >= 5) return;
    inFlightAtReload.push(inFlight);
    h.app.reload(configs[reloads % 2] as Config);
    reloads++;
  });
  t.equal(reloads, 5);
  t.ok(inFlightAtReload.every((n) => n > 0), `every reload happened with requests in flight (${inFlightAtReload.join(', ')})`);
  t.equal(results.length, 200);
  const failed = results.filter((r) => r.status !== 200 || r.outcome !== 'immediate');
  t.same(failed, [], 'no request failed');
  t.same([...new Set(results.map((r) => r.body))].sort(), ['"a"', '"b"'], 'answers came from the old and the new function, nothing else');
  // A request sent and answered between the same two reloads was opened after the first: it must get that config's function.
  const wrong = results.filter((r) => r.sentAfter === r.answeredAfter && r.body !== functionAfter(r.sentAfter));
  t.same(wrong, [], 'a stream opened after a reload is served by the new function');
  t.ok(results.filter((r) => r.sentAfter === r.answeredAfter && r.sentAfter > 0).length > 0, 'and there were such streams');
  const opened = connections.count() - afterWarmUp;
  t.equal(opened, 0, `Lambda connections survived the reloads: ${opened} new TCP connections for 200 requests`);
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
