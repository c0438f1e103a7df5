import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import { eventually } from '../support/eventually';
import { fakeRoute, KEY_ID, SECRET, startHarness } from '../support/harness';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

// Prometheus text format: `name{label="value",...} number`, comments start with #.
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const found = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (found === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (found[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ''] = pair[2] ?? '';
    samples.push({ name: found[1] ?? '', labels, value: Number(found[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function scrape(port: number): Promise<{ text: string; samples: Sample[] }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ text, samples: parseExposition(text) }));
    })
      .on('error', reject)
      .end();
  });
}

const ROUTES = `${fakeRoute('ok', 'match: { path_prefix: /ok }\nfunction_name: ok-fn')}${fakeRoute('crash', 'match: { path_prefix: /crash }\nfunction_name: crash-fn')}${fakeRoute('busy', 'match: { path_prefix: /busy }\nfunction_name: busy-fn')}`;
const CONFIG = `admin:\n  listen: 127.0.0.1:0\nroutes:\n${ROUTES}`;

t.test('requests, invoke latency, streams, reloads and process metrics are scraped with the right values', async (t) => {
  const h = await startHarness({
    config: CONFIG,
    lambda: {
      functions: {
        'ok-fn': () => ({ body: '{"ok":true}', delayMs: 30 }),
        'crash-fn': () => ({ body: '{"errorMessage":"boom"}', functionError: 'Unhandled' }),
        'busy-fn': () => ({ apiError: { status: 429, type: 'TooManyRequestsException', message: 'Rate exceeded' } }),
      },
    },
  });
  t.teardown(() => h.close());
  const port = h.app.adminPort ?? 0;
  const before = await scrape(port);
  t.equal(value(before.samples, 'lambda_extproc_config_reloads_total', { result: 'success' }), 0, 'reload series exist from the start');

  const answers = await Promise.all([h.send({ path: '/ok' }), h.send({ path: '/ok' }), h.send({ path: '/crash' }), h.send({ path: '/busy' })]);
  t.same(answers.map((a) => a.status), [200, 200, 200, 429]);
  const unknown = await h.send({ path: '/ok', metadata: { 'x-lambda-extproc-route': 'nosuch' } });
  t.equal(unknown.status, 500);
  const passthrough = await h.send({ path: '/elsewhere' });
  t.equal(passthrough.outcome, 'upstream');

  const { samples, text } = await scrape(port);
  t.equal(value(samples, 'lambda_extproc_requests_total', { route: 'ok', status: '200', cause: 'none' }), 2);
  t.equal(value(samples, 'lambda_extproc_requests_total', { route: 'crash', status: '200', cause: 'none' }), 1, 'a function error is still Lambda answering');
  t.equal(value(samples, 'lambda_extproc_requests_total', { route: 'busy', status: '429', cause: 'lambda_throttled' }), 1);
  t.equal(value(samples, 'lambda_extproc_requests_total', { route: '(unknown)', status: '500', cause: 'unknown_route' }), 1, 'a name the config lacks is counted under (unknown)');
  t.notOk(text.includes('nosuch'), 'the name itself is no label value');
  t.notOk(samples.some((s) => s.name === 'lambda_extproc_requests_total' && s.labels.route === ''), 'requests let through are not counted as Lambda requests');

  t.equal(value(samples, 'lambda_extproc_invoke_duration_seconds_count', { route: 'ok', function: 'ok-fn' }), 2);
  const okSum = value(samples, 'lambda_extproc_invoke_duration_seconds_sum', { route: 'ok', function: 'ok-fn' }) ?? 0;
  t.ok(okSum >= 0.06 && okSum < 5, `invoke time covers the function's 30 ms delay twice (sum ${okSum})`);
  t.equal(value(samples, 'lambda_extproc_invoke_duration_seconds_bucket', { route: 'ok', function: 'ok-fn', le: '0.025' }), 0, 'no 30 ms call in the 25 ms bucket');
  t.equal(value(samples, 'lambda_extproc_invoke_duration_seconds_bucket', { route: 'ok', function: 'ok-fn', le: '+Inf' }), 2);
  t.equal(value(samples, 'lambda_extproc_invoke_duration_seconds_count', { route: 'busy', function: 'busy-fn' }), 1, 'failed calls are timed too');

  t.equal(value(samples, 'lambda_extproc_streams_in_flight'), 0, 'every stream closed');
  t.match(text, /# TYPE lambda_extproc_credential_refreshes_total counter/);
  t.ok((value(samples, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'process metrics');
  t.ok((value(samples, 'nodejs_heap_size_used_bytes') ?? 0) > 0, 'Node.js runtime metrics');
});

t.test('streams in flight counts open streams while Lambda runs', async (t) => {
  // Held until all three are counted, so none can finish first on a busy machine.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const h = await startHarness({
    config: CONFIG,
    lambda: {
      functions: {
        'ok-fn': async () => {
          await held;
          return { body: '{}' };
        },
      },
    },
  });
  t.teardown(() => h.close());
  t.teardown(() => release());
  const pending = Promise.all([h.send({ path: '/ok' }), h.send({ path: '/ok' }), h.send({ path: '/ok' })]);
  await eventually(() => h.lambda.invocations.length >= 3);
  t.equal(value((await scrape(h.app.adminPort ?? 0)).samples, 'lambda_extproc_streams_in_flight'), 3);
  release();
  await pending;
  // Each stream closes on Envoy's reset after the answer, which the server reads after the client has its answer.
  await eventually(async () => value((await scrape(h.app.adminPort ?? 0)).samples, 'lambda_extproc_streams_in_flight') === 0);
  t.equal(value((await scrape(h.app.adminPort ?? 0)).samples, 'lambda_extproc_streams_in_flight'), 0);
});

t.test('config reloads are counted by result', async (t) => {
  const h = await startHarness({ config: CONFIG });
  t.teardown(() => h.close());
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-metrics-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'routes:\n  - name: x\n    typo: 1\n');
  t.equal(h.app.reloadFile(bad), false);
  const good = parseConfig(`routes:\n  - name: only\n    function_name: f\n    aws_region: us-east-1\n`, {});
  if (!good.ok) throw new Error('test config invalid');
  h.app.reload(good.config);
  h.app.reload(good.config);
  const { samples } = await scrape(h.app.adminPort ?? 0);
  t.equal(value(samples, 'lambda_extproc_config_reloads_total', { result: 'success' }), 2);
  t.equal(value(samples, 'lambda_extproc_config_reloads_total', { result: 'failure' }), 1);
});

t.test('secrets of the config reach neither /metrics nor the logs', async (t) => {
  const h = await startHarness({ config: CONFIG, lambda: { functions: { 'ok-fn': () => ({ body: '{}' }) } } });
  t.teardown(() => h.close());
  await h.send({ path: '/ok', headers: [['authorization', 'Bearer client-token-123']] });
  const { text } = await scrape(h.app.adminPort ?? 0);
  for (const secret of [SECRET, KEY_ID, 'client-token-123']) {
    t.notOk(text.includes(secret), `${secret.slice(0, 6)}… not in /metrics`);
    t.notOk(h.rawLogs().includes(secret), `${secret.slice(0, 6)}… not in logs`);
  }
});

t.test('credential fetches are counted by source and outcome: one fetch serves many requests', async (t) => {
  // The credential chain reads the process environment, as the AWS SDK does.
  process.env.AWS_ACCESS_KEY_ID = 'AKIDCHAIN0000000001';
  process.env.AWS_SECRET_ACCESS_KEY = 'chain-secret-0001';
  t.teardown(() => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });
  const chainRoute = `  - name: chain\n    match: { path_prefix: /chain }\n    function_name: chain-fn\n    aws_region: us-east-1\n    host: 127.0.0.1\n    port: {{lambda}}\n    disable_https: true\n`;
  const h = await startHarness({
    config: `admin:\n  listen: 127.0.0.1:0\nroutes:\n${chainRoute}`,
    lambda: { secrets: { AKIDCHAIN0000000001: 'chain-secret-0001' }, functions: { 'chain-fn': () => ({ body: '{}' }) } },
  });
  t.teardown(() => h.close());
  const answers = await Promise.all([1, 2, 3].map(() => h.send({ path: '/chain' })));
  t.same(answers.map((a) => a.status), [200, 200, 200]);
  const { samples, text } = await scrape(h.app.adminPort ?? 0);
  const refreshes = samples.filter((s) => s.name === 'lambda_extproc_credential_refreshes_total');
  t.same(refreshes.map((s) => ({ ...s.labels, value: s.value })), [{ source: 'env', outcome: 'refreshed', value: 1 }], 'the chain answered from the environment, once');
  t.notOk(text.includes('chain-secret-0001'), 'secret key not in /metrics');
});

/** Every series whose labels name a route or function, as `name{labels}`. */
function routeSeries(samples: Sample[]): string[] {
  return samples.filter((s) => s.labels.route !== undefined || s.labels.function !== undefined).map((s) => `${s.name}${JSON.stringify(s.labels)}`);
}

t.test('route names the config lacks add no series: 300 unknown names are counted under one (unknown) series', async (t) => {
  const h = await startHarness({ config: CONFIG, lambda: { functions: { 'ok-fn': () => ({ body: '{}' }), 'crash-fn': () => ({ body: '{}', delayMs: 3000 }) } } });
  t.teardown(() => h.close());
  const port = h.app.adminPort ?? 0;
  const ok = await h.send({ path: '/ok' });
  t.equal(ok.status, 200);
  const cancelled = await h.send({ path: '/crash', cancelAfterMs: 200 });
  t.equal(cancelled.outcome, 'cancelled', 'a cancelled request is counted under its config route');
  const first = await h.send({ path: '/ok', metadata: { 'x-lambda-extproc-route': 'bogus-0' } });
  t.equal(first.status, 500);
  const before = await scrape(port);
  const seriesBefore = routeSeries(before.samples);

  for (let batch = 1; batch < 300; batch += 50) {
    const names = Array.from({ length: Math.min(50, 300 - batch) }, (_, i) => `bogus-${batch + i}-${'n'.repeat(40)}`);
    const answers = await Promise.all(names.map((name) => h.send({ path: '/ok', metadata: { 'x-lambda-extproc-route': name } })));
    t.equal(answers.filter((a) => a.status === 500).length, names.length, `${names.length} unknown names answered 500`);
  }
  const after = await scrape(port);
  t.same(routeSeries(after.samples), seriesBefore, 'the same series as after the first unknown name');
  t.equal(value(after.samples, 'lambda_extproc_requests_total', { route: '(unknown)', status: '500', cause: 'unknown_route' }), 300, 'all 300 counted');
  const labelValues = new Set(after.samples.flatMap((s) => [s.labels.route, s.labels.function]).filter((v): v is string => v !== undefined));
  t.same([...labelValues].sort(), ['(unknown)', 'crash', 'crash-fn', 'ok', 'ok-fn'], 'label values come from the config, plus the one fixed (unknown)');
  t.equal(value(after.samples, 'lambda_extproc_requests_total', { route: 'crash', status: '499', cause: 'cancelled' }), 1);
  t.notOk(after.text.includes('bogus'), 'no requested name in /metrics');
  // Only our own metrics: Node's GC metrics add a series per GC kind when one first runs.
  const ours = (text: string): number => text.split('\n').filter((line) => line.includes('lambda_extproc_')).join('\n').length;
  t.ok(ours(after.text) - ours(before.text) < 64, `lambda_extproc_* text grew ${ours(after.text) - ours(before.text)} bytes (${ours(before.text)} → ${ours(after.text)}; all of /metrics ${before.text.length} → ${after.text.length})`);
});
