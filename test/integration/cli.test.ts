import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { runCli, startCli } from '../support/cli';

const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-cli-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

t.test('--version prints the package version and --help the usage', async (t) => {
  const version = await runCli(['--version']);
  t.equal(version.code, 0);
  t.equal(version.stdout.trim(), (require('../../package.json') as { version: string }).version);
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /lambda-extproc check --config FILE/);
});

t.test('check exits 0 on a valid config and 1 with every problem on a bad one', async (t) => {
  const good = await runCli(['check', '--config', join(__dirname, '..', '..', 'config', 'example.yaml')]);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /OK \(1 route\)/);
  const bad = await runCli(['check', '--config', write('bad.yaml', 'routes:\n  - name: a\n    aws_key: k\n    typo: 1\n')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /routes\[0\]: unknown field 'typo'/);
  t.match(bad.stderr, /routes\[0\]\.function_name: is required/);
  t.match(bad.stderr, /routes\[0\]\.aws_secret: all or none/);
  const missing = await runCli(['--config', join(dir, 'nope.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read config file \(ENOENT\)/);
  const none = await runCli([]);
  t.equal(none.code, 2);
  t.match(none.stderr, /--config FILE is required/);
});

t.test('runs from LAMBDA_EXTPROC_CONFIG, serves a request, and exits 0 on SIGTERM', async (t) => {
  const lambda = await startFakeLambda({ secrets: { AKIDCLI: 'cli-secret' }, functions: { '*': () => ({ body: '{"response":"yes"}' }) } });
  t.teardown(() => lambda.close());
  const file = write(
    'run.yaml',
    `listen: 127.0.0.1:0
routes:
  - name: lambda1
    match: { path_prefix: /lambda1 }
    function_name: MyLambda
    aws_region: us-east-1
    host: 127.0.0.1
    port: ${lambda.port}
    disable_https: true
`,
  );
  const cli = await startCli([], { LAMBDA_EXTPROC_CONFIG: file, AWS_ACCESS_KEY_ID: 'AKIDCLI', AWS_SECRET_ACCESS_KEY: 'cli-secret' });
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  const r = await envoy.send({ path: '/lambda1' });
  envoy.close();
  t.equal(r.status, 200);
  t.equal(r.body.toString(), '{"response":"yes"}');
  t.equal(await cli.stop('SIGTERM'), 0, 'exit 0 after draining');
  t.match(cli.output(), /"msg":"request"/);
  t.notMatch(cli.output(), /cli-secret/);
});
