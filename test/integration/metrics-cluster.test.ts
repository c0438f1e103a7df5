// workers: 2 — the primary adds up the workers' metrics: route names the
// config lacks stay one (unknown) series in the sum too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { startCli } from '../support/cli';

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

// Series of our own metrics that carry a route or function label.
const routeSeries = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('lambda_extproc_') && /(route|function)="/.test(line)).map((line) => line.slice(0, line.lastIndexOf(' ')));

t.test('300 unknown route names sent to two workers add no series to the summed /metrics', async (t) => {
  const lambda = await startFakeLambda({ secrets: { AKIDCLUSTER: 'cluster-secret' }, functions: { '*': () => ({ body: '{}' }) } });
  t.teardown(() => lambda.close());
  const file = join(mkdtempSync(join(tmpdir(), 'lambda-extproc-metrics-cluster-')), 'config.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0\nworkers: 2\nadmin:\n  listen: 127.0.0.1:0\nroutes:\n  - name: hello\n    match: { path_prefix: /hello }\n    function_name: Hello\n    aws_region: us-east-1\n    host: 127.0.0.1\n    port: ${lambda.port}\n    disable_https: true\n    aws_key: AKIDCLUSTER\n    aws_secret: cluster-secret\n`,
  );
  const cli = await startCli(['--config', file]);
  t.teardown(() => cli.stop('SIGKILL'));
  // startCli returns on the first worker's line; connections made before the second listens all go to the first.
  for (let i = 0; i < 200 && !cli.output().includes('lambda-extproc workers listening'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const adminPort = Number(/"admin_port":(\d+)/.exec(cli.output())?.[1] ?? 0);
  t.ok(adminPort > 0, 'the primary serves the admin port');
  // Each client has its own connection; node:cluster hands connections to the workers in turn.
  const clients = Array.from({ length: 4 }, () => createEnvoyClient(`127.0.0.1:${cli.port}`, { ownConnection: true }));
  t.teardown(() => clients.forEach((client) => client.close()));
  const send = (i: number, route?: string) => clients[i % clients.length]!.send({ path: '/hello', ...(route === undefined ? {} : { metadata: { 'x-lambda-extproc-route': route } }) });

  const warmup = await Promise.all([0, 1, 2, 3].flatMap((i) => [send(i), send(i, `bogus-first-${i}`)]));
  t.same(warmup.map((r) => r.status).sort(), [200, 200, 200, 200, 500, 500, 500, 500]);
  const before = routeSeries(await scrape(adminPort));
  for (let batch = 0; batch < 300; batch += 50) {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => send(i, `bogus-${batch + i}`)));
    t.equal(answers.filter((r) => r.status === 500).length, 50, `names ${batch}-${batch + 49}: 500`);
  }
  const text = await scrape(adminPort);
  t.same(routeSeries(text), before, 'the same series as before the 300 names');
  t.match(text, /lambda_extproc_requests_total\{route="\(unknown\)",status="500",cause="unknown_route"\} 304\n/, 'counted, summed over the workers');
  t.notOk(text.includes('bogus'), 'no requested name in /metrics');
  // Each process writes its log lines asynchronously: give the pipe a moment.
  const served = (): string[] => [...new Set([...cli.output().matchAll(/"worker":(\d+)[^\n]*"msg":"request failed"/g)].map((m) => m[1] ?? ''))].sort();
  for (let i = 0; i < 100 && served().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(served(), ['1', '2'], 'both workers answered unknown names');
});
