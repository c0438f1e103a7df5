import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { startCli, type StartedCli } from '../support/cli';

const KEY = 'AKIDWATCH0000000001';
const SECRET = 'watch-secret-value-0001';

async function setup(t: Test, watch: boolean): Promise<{ file: string; write(fn: string, extra?: string): void; cli: StartedCli; call(): Promise<string> }> {
  const lambda = await startFakeLambda({ secrets: { [KEY]: SECRET }, functions: { 'fn-a': () => ({ body: '"a"' }), 'fn-b': () => ({ body: '"b"' }) } });
  t.teardown(() => lambda.close());
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-watch-'));
  const file = join(dir, 'config.yaml');
  // Written aside and renamed in, as editors and ConfigMap updates do.
  const write = (fn: string, extra = ''): void => {
    const aside = join(dir, `.config.yaml.${Date.now()}`);
    writeFileSync(
      aside,
      `listen: 127.0.0.1:0\nwatch: ${watch}\nroutes:\n  - name: orders\n    match: { path_prefix: /orders }\n    function_name: ${fn}\n    aws_region: us-east-1\n    host: 127.0.0.1\n    port: ${lambda.port}\n    disable_https: true\n    aws_key: ${KEY}\n    aws_secret: ${SECRET}\n${extra}`,
    );
    renameSync(aside, file);
  };
  write('fn-a');
  const cli = await startCli(['--config', file]);
  t.teardown(() => cli.stop('SIGKILL'));
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  return { file, write, cli, call: async () => (await envoy.send({ path: '/orders' })).body.toString() };
}

async function waitForCount(cli: StartedCli, pattern: RegExp, count: number, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((cli.output().match(new RegExp(pattern.source, 'g')) ?? []).length >= count) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

t.test('watch: true reloads on a file change, keeps the old config on an invalid one', async (t) => {
  const s = await setup(t, true);
  t.equal(await s.call(), '"a"');
  s.write('fn-b');
  t.ok(await waitForCount(s.cli, /"msg":"config reloaded"/, 1), 'reloaded after the change');
  t.equal(await s.call(), '"b"', 'new streams use the new function');
  s.write('fn-a', '    invocation_type: Sometimes\n');
  t.ok(await waitForCount(s.cli, /config reload rejected/, 1), 'invalid file rejected');
  t.match(s.cli.output(), /routes\[0\]\.invocation_type/);
  t.equal(await s.call(), '"b"', 'the previous config stays in force');
  t.equal(await s.cli.stop('SIGTERM'), 0);
  t.notMatch(s.cli.output(), new RegExp(SECRET));
});

t.test('without watch a file change does nothing until SIGHUP', async (t) => {
  const s = await setup(t, false);
  s.write('fn-b');
  // A negative: a busy machine can only make it pass more easily, never fail it. 600 ms is past the 250 ms debounce.
  await new Promise((r) => setTimeout(r, 600));
  t.equal(await s.call(), '"a"', 'not reloaded without a signal');
  s.cli.child.kill('SIGHUP');
  t.ok(await waitForCount(s.cli, /"msg":"config reloaded"/, 1), 'reloaded on SIGHUP');
  t.equal(await s.call(), '"b"');
  t.equal(await s.cli.stop('SIGTERM'), 0);
});
