// workers: 2 — two processes behind one gRPC port: both serve, the primary's
// admin port adds up their metrics, SIGHUP reloads both, a killed worker is
// replaced, SIGTERM drains both and exits 0; a worker that cannot bind stops
// the start with exit 1.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEnvoyClient, type EnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { runCli, startCli, type StartedCli } from '../support/cli';

const KEY = 'AKIDWORKERS';
const SECRET = 'workers-secret';

function configText(lambdaPort: number, functionName: string, listen = '127.0.0.1:0'): string {
  return `listen: ${listen}
workers: 2
admin:
  listen: 127.0.0.1:0
drain_timeout: 10000
routes:
  - name: hello
    match: { path_prefix: /hello }
    function_name: ${functionName}
    aws_region: us-east-1
    host: 127.0.0.1
    port: ${lambdaPort}
    disable_https: true
    aws_key: ${KEY}
    aws_secret: ${SECRET}
`;
}

interface LogLine {
  readonly msg?: string;
  readonly worker?: number;
  readonly pid?: number;
  readonly admin_port?: number;
  readonly result?: string;
}

/** Complete log lines so far (a line still being written is left for the next look). */
function logLines(cli: StartedCli): LogLine[] {
  return cli
    .output()
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

async function until(what: string, test: () => boolean, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function fetchText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** `count` requests spread over the clients (one connection each); every answer's status and body. */
async function sendMany(clients: readonly EnvoyClient[], count: number): Promise<Array<{ status: number | undefined; body: string }>> {
  const results = await Promise.all(Array.from({ length: count }, (_, i) => clients[i % clients.length]!.send({ path: `/hello/${i}` })));
  return results.map((r) => ({ status: r.status, body: r.body.toString() }));
}

t.test('two workers serve one port, share metrics, reload, survive a killed worker and drain', async (t) => {
  const lambda = await startFakeLambda({ secrets: { [KEY]: SECRET }, functions: { '*': (invocation) => ({ body: JSON.stringify({ fn: invocation.functionName }) }) } });
  t.teardown(() => lambda.close());
  const file = join(mkdtempSync(join(tmpdir(), 'lambda-extproc-workers-')), 'workers.yaml');
  writeFileSync(file, configText(lambda.port, 'Hello'));
  const cli = await startCli(['--config', file]);
  let exited = false;
  t.teardown(async () => {
    if (!exited) await cli.stop('SIGKILL');
  });
  await until('both workers listening', () => logLines(cli).some((l) => l.msg === 'lambda-extproc workers listening'));
  const adminPort = logLines(cli).find((l) => l.admin_port !== undefined)?.admin_port ?? 0;
  t.ok(adminPort > 0, 'the primary serves the admin port');
  // Each process writes its log asynchronously: a worker's line may land after the primary's.
  await until('both workers logging', () => logLines(cli).filter((l) => l.msg === 'lambda-extproc listening').length >= 2);
  t.equal(logLines(cli).filter((l) => l.msg === 'lambda-extproc listening').length, 2, 'each worker logs its listening line');

  const clients = Array.from({ length: 4 }, () => createEnvoyClient(`127.0.0.1:${cli.port}`, { ownConnection: true }));
  t.teardown(() => clients.forEach((c) => c.close()));
  const first = await sendMany(clients, 40);
  t.equal(first.filter((r) => r.status === 200 && r.body === '{"fn":"Hello"}').length, 40, '40 of 40 answered by the function');
  const servedBy = new Set(logLines(cli).filter((l) => l.msg === 'request').map((l) => l.worker));
  t.same([...servedBy].sort(), [1, 2], 'requests were served by both workers (connections go to them in turn)');

  const metrics = await fetchText(adminPort, '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.body, /lambda_extproc_requests_total\{route="hello",status="200",cause="none"\} 40\n/, 'the counter is the sum over the workers');
  t.match(metrics.body, /lambda_extproc_invoke_duration_seconds_count\{route="hello",function="Hello"\} 40\n/, 'the histogram too');
  t.equal((await fetchText(adminPort, '/readyz')).status, 200, 'ready with both workers serving');

  writeFileSync(file, configText(lambda.port, 'HelloAgain'));
  cli.child.kill('SIGHUP');
  await until('both workers reloaded', () => logLines(cli).filter((l) => l.msg === 'config reloaded').length === 2);
  const afterReload = await sendMany(clients, 8);
  t.equal(afterReload.filter((r) => r.status === 200 && r.body === '{"fn":"HelloAgain"}').length, 8, 'SIGHUP to the primary reloaded every worker');

  const victim = logLines(cli).find((l) => l.msg === 'lambda-extproc listening' && l.worker === 1)?.pid ?? 0;
  t.ok(victim > 0, 'worker 1 logs its pid');
  process.kill(victim, 'SIGKILL');
  await until('the replacement listening', () => logLines(cli).some((l) => l.msg === 'lambda-extproc listening' && l.worker === 3));
  t.ok(logLines(cli).some((l) => l.msg === 'worker exited; starting a new one' && l.worker === 1), 'the primary logs the dead worker');
  const fresh = Array.from({ length: 4 }, () => createEnvoyClient(`127.0.0.1:${cli.port}`, { ownConnection: true }));
  t.teardown(() => fresh.forEach((c) => c.close()));
  const afterCrash = await sendMany(fresh, 20);
  t.equal(afterCrash.filter((r) => r.status === 200 && r.body === '{"fn":"HelloAgain"}').length, 20, 'new connections are served after the crash');
  let ready = 0;
  for (let i = 0; i < 50 && ready !== 200; i++) {
    ready = (await fetchText(adminPort, '/readyz')).status;
    if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(ready, 200, 'ready again with the replacement serving');

  const code = await cli.stop('SIGTERM');
  exited = true;
  t.equal(code, 0, 'SIGTERM drains both workers and exits 0');
  const stopped = logLines(cli).filter((l) => l.msg === 'stopped');
  t.equal(stopped.filter((l) => l.worker === undefined && l.result === 'drained').length, 1, 'the primary reports a clean drain');
  t.equal(stopped.filter((l) => l.worker !== undefined).length, 2, 'each worker drained');
});

t.test('a worker that cannot bind the port stops the start with exit 1', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const file = join(mkdtempSync(join(tmpdir(), 'lambda-extproc-workers-')), 'taken.yaml');
  writeFileSync(file, configText(1, 'Hello', `127.0.0.1:${port}`));
  const run = await runCli(['--config', file]);
  t.equal(run.code, 1, 'exit 1');
  t.match(run.stdout, /cannot start: a worker exited before listening/);
  t.match(run.stdout, /EADDRINUSE|address already in use|No address added/i, 'the worker says why');
});
