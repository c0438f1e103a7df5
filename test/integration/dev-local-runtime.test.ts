// `lambda-extproc dev --config config/example.yaml`, the README's first run:
// the built CLI with its local Lambda runtime, curled as a user would.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { curl } from '../support/curl';
import { startFakeImds } from '../fakes/imds';
import { CLI, runCli, startCli } from '../support/cli';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'config', 'example.yaml');

async function waitFor(read: () => string, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  for (let i = 0; i < 800; i++) {
    const found = pattern.exec(read());
    if (found !== null) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${what} in:\n${read()}`);
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('dev --config config/example.yaml: /hello, /echo and /api/x answered by the example handlers through ext_proc, SigV4 and the local runtime, nothing asked beyond loopback', async (t) => {
  // A credential chain would ask this metadata service; static keys mean it is never asked.
  const imds = await startFakeImds({ mode: 'both' });
  t.teardown(() => imds.close());
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [CLI, 'dev', '--config', EXAMPLE, '--http', '0', '--lambda', '0', '--listen', '0'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url, AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9', AWS_REGION: 'eu-central-1' },
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  const door = Number((await waitFor(() => stdout, /"port":(\d+)[^\n]*dev front door listening/, 'front door line'))[1]);
  const runtimePort = Number((await waitFor(() => stdout, /"port":(\d+)[^\n]*local Lambda runtime listening \(for development and tests only/, 'local runtime line'))[1]);
  t.not(runtimePort, 9000, '--lambda 0: a free port, and the routes that call 127.0.0.1:9000 follow it');
  await waitFor(() => stderr, /Try:\n/, 'what to try');
  for (const path of ['/hello', '/echo', '/api/hello']) t.match(stderr, `  curl http://127.0.0.1:${door}${path}\n`, `the terminal suggests ${path}`);
  t.match(stderr, `  curl -N http://127.0.0.1:${door}/stream\n`, 'and -N for the streaming route');
  t.match(stderr, /development and tests only/);

  const hello = await curl(door, '/hello');
  const firstAnswerMs = performance.now() - spawnedAt;
  t.equal(hello.status, 200);
  t.equal(hello.body, '{"message":"hello from lambda-extproc"}');
  t.equal(hello.headers['content-type'], 'application/json');
  t.equal(hello.headers['x-amz-executed-version'], '$LATEST');
  t.equal(hello.headers['x-amz-function-error'], undefined);
  const id = String(hello.headers['x-amzn-requestid']);
  t.match(id, /^[0-9a-f-]{36}$/);
  t.comment(`spawn to first answer of /hello: ${firstAnswerMs.toFixed(0)} ms`);

  const echo = await curl(door, '/echo/x?y=1', { method: 'POST', body: '{"hi":1}', headers: { 'content-type': 'application/json', 'x-custom': 'kept' } });
  t.equal(echo.status, 200);
  t.match(JSON.parse(echo.body), { request_method: 'POST', request_uri: '/echo/x?y=1', request_uri_args: { y: '1' }, request_body_args: { hi: 1 }, request_headers: { 'x-custom': 'kept' } }, "the CommonJS echo returns Kong's payload as the sidecar built it");

  const api = await curl(door, '/api/x?name=dev');
  t.equal(api.status, 200);
  t.equal(api.headers['x-handled-by'], 'examples/functions/api.mjs', 'proxy integration: the function chose the headers');
  t.same(JSON.parse(api.body), { hello: 'dev', method: 'GET', path: '/api/x' });

  await waitFor(() => stderr, new RegExp(`\\[hello\\] REPORT RequestId: ${id}\\t`), 'REPORT line of /hello');
  t.match(stderr, `[hello] START RequestId: ${id} Version: $LATEST\n`, 'the answer came from the local runtime (same request id)');
  t.match(stderr, new RegExp(`\\[hello\\] \\S+\\t${id}\\tINFO\\thello from hello \\(request ${id}\\)\\n`), "the handler's console line, prefixed with the function name, on stderr");
  const lines = stdout.split('\n').filter((line) => line !== '');
  t.ok(lines.every((line) => line.startsWith('{') && JSON.parse(line) !== null), 'stdout holds JSON log lines only');
  t.ok(lines.some((line) => line.includes('"route":"hello"')), 'the request log line of /hello');
  t.equal(imds.requests.length, 0, 'no credential chain: the metadata service was never asked');

  const handlers = childPids(child.pid ?? 0);
  t.equal(handlers.length, 3, 'one warm process per function called');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: drained and exited 0');
  t.same(handlers.filter(alive), [], 'the handler processes are gone too');
});

t.test('dev --http PORT (bare): listens on 127.0.0.1:PORT', async (t) => {
  const free = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const cli = await startCli(['dev', '--config', EXAMPLE, '--http', String(free), '--lambda', '0', '--listen', '0']);
  t.teardown(() => cli.stop('SIGKILL'));
  await waitFor(cli.output, /dev front door listening/, 'front door line');
  t.match(cli.output(), `"http":"http://127.0.0.1:${free}","port":${free}`);
  t.equal((await curl(free, '/hello')).status, 200);
  t.equal(await cli.stop('SIGTERM'), 0);
});

t.test('dev refuses nonsense addresses and a non-loopback runtime with a usage error (exit 2)', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--http', '8000x'], /--http takes PORT or HOST:PORT \(e\.g\. 8000 or 127\.0\.0\.1:8000\), got "8000x"/],
    [['--http', '70000'], /--http takes PORT or HOST:PORT/],
    [['--listen', 'nowhere'], /--listen takes PORT or HOST:PORT/],
    [['--lambda', '0.0.0.0:9000'], /--lambda: the local Lambda runtime listens on 127\.0\.0\.1:PORT only/],
  ];
  for (const [flags, message] of cases) {
    const result = await runCli(['dev', '--config', EXAMPLE, ...flags]);
    t.equal(result.code, 2, flags.join(' '));
    t.match(result.stderr, message, flags.join(' '));
  }
});

t.test('dev names a missing handler file (exit 1); the server run ignores local_lambda with one info line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-dev-'));
  const file = join(dir, 'dev.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:0\nroutes:\n  - { name: a, function_name: a, aws_region: us-east-1, host: 127.0.0.1, port: 9000, disable_https: true, aws_key: AKIDX, aws_secret: x }\nlocal_lambda:\n  functions:\n    a: { handler: missing/a.mjs }\n');
  const dev = await runCli(['dev', '--config', file, '--http', '0']);
  t.equal(dev.code, 1);
  t.match(dev.stderr, `local_lambda.functions.a.handler: file not found: ${join(dir, 'missing', 'a.mjs')}`);
  const run = await startCli(['--config', file]);
  t.teardown(() => run.stop('SIGKILL'));
  t.match(run.output(), /local_lambda is used by `lambda-extproc dev` only; the server ignores it/);
  t.notMatch(run.output(), /local Lambda runtime listening/);
  t.equal(await run.stop('SIGTERM'), 0);
});

t.test('dev says what to do when the local runtime port is taken (exit 1)', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const { port } = busy.address() as AddressInfo;
  const result = await runCli(['dev', '--config', EXAMPLE, '--http', '0', '--listen', '0', '--lambda', String(port)]);
  t.equal(result.code, 1);
  t.match(result.stdout, `the local Lambda runtime cannot listen on 127.0.0.1:${port}: the port is in use`);
  t.match(result.stdout, /--lambda 0 takes a free port/);
});
