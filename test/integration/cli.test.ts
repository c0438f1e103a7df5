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
  t.match(help.stdout, /^  lambda-extproc check FILE  /m);
  t.match(help.stdout, /^A config FILE may also be given as --config FILE, or in LAMBDA_EXTPROC_CONFIG\.$/m);
});

t.test('check exits 0 on a valid config and 1 with every problem on a bad one', async (t) => {
  const good = await runCli(['check', '--config', join(__dirname, '..', '..', 'config', 'example.yaml')]);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /OK \(4 routes\)/);
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
  t.equal(none.stderr, 'run needs a config file: lambda-extproc run FILE (or --config FILE, or LAMBDA_EXTPROC_CONFIG)\n');
});

const EXAMPLE = join(__dirname, '..', '..', 'config', 'example.yaml');

t.test('a config file is FILE or --config FILE alike, for check, run and dev', async (t) => {
  for (const args of [['check', EXAMPLE], ['check', '--config', EXAMPLE], ['check', '-c', EXAMPLE]]) {
    const r = await runCli(args);
    t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    t.equal(r.stdout, `${EXAMPLE}: OK (4 routes)\n`);
  }
  const fromEnv = await runCli(['check'], { LAMBDA_EXTPROC_CONFIG: EXAMPLE });
  t.equal(fromEnv.stdout, `${EXAMPLE}: OK (4 routes)\n`, 'LAMBDA_EXTPROC_CONFIG as before');
  const twice = await runCli(['check', EXAMPLE, '--config', EXAMPLE]);
  t.equal(twice.code, 2);
  t.equal(twice.stderr, 'check: give the config file once, as check FILE or check --config FILE\n');
  const extra = await runCli(['check', EXAMPLE, 'other.yaml']);
  t.equal(extra.code, 2);
  t.match(extra.stderr, /^check: unexpected argument "other\.yaml"\nUsage:/);
  const schemaExtra = await runCli(['schema', 'x']);
  t.equal(schemaExtra.code, 2);
  t.match(schemaExtra.stderr, /^schema: unexpected argument "x"\n/);
  const bare = await runCli([EXAMPLE]);
  t.equal(bare.code, 2, 'a bare FILE is not a command');
  t.match(bare.stderr, `unknown command "${EXAMPLE}" (to run with a config file: lambda-extproc run ${EXAMPLE})\nUsage:`);
  const typo = await runCli(['chek']);
  t.match(typo.stderr, /^unknown command "chek"\nUsage:/, 'no file hint for a word');
  const kong = await runCli(['import-kong', '--config', EXAMPLE]);
  t.equal(kong.code, 2);
  t.equal(kong.stderr, 'import-kong takes the Kong decK file as its argument (lambda-extproc import-kong kong.yaml); --config names a lambda-extproc config\n');
  const devNone = await runCli(['dev']);
  t.equal(devNone.code, 2);
  t.equal(devNone.stderr, 'dev needs a config file: lambda-extproc dev FILE (or --config FILE, or LAMBDA_EXTPROC_CONFIG)\n');
});

t.test('check: one message per problem, exactly as written', async (t) => {
  const unset = await runCli(['check', write('unset.yaml', 'routes:\n  - { name: a, function_name: "${FUNCTION}", aws_region: us-east-1 }\n')]);
  t.equal(unset.code, 1);
  t.equal(unset.stderr, `${join(dir, 'unset.yaml')}: invalid configuration\nroutes[0].function_name: environment variable FUNCTION is not set\n`);
  const yaml = await runCli(['check', write('indent.yaml', 'routes:\n  - name: a\n   function_name: f\n')]);
  t.equal(yaml.code, 1);
  t.equal(yaml.stderr, `${join(dir, 'indent.yaml')}: invalid configuration\nline 3, column 1: invalid YAML: Sequence item without - indicator\n`);
});

t.test('check: exit 1 for routes that pass the schema but fail every request, each by field path', async (t) => {
  const file = write(
    'regions.yaml',
    `routes:
  - { name: good, function_name: F, aws_region: eu-west-1 }
  - { name: nowhere, function_name: F }
  - { name: elsewhere, function_name: "arn:aws:lambda:eu-west-1:123456789012:function:f", aws_region: us-east-1 }
`,
  );
  const bad = await runCli(['check', file]);
  t.equal(bad.code, 1);
  t.equal(bad.stdout, '');
  t.equal(
    bad.stderr,
    `${file}: 2 routes would fail every request
routes[1].aws_region: no region or host specified: set aws_region (on the route or in defaults), AWS_REGION or AWS_DEFAULT_REGION, a lambda.<region>.amazonaws.com host, or a full function ARN
routes[2].function_name: the function ARN is in eu-west-1 but the route signs for us-east-1 (from aws_region)
`,
  );
  const withRegion = await runCli(['check', file], { AWS_REGION: 'us-east-1' });
  t.equal(withRegion.code, 1, 'the environment counts, as for the server');
  t.equal(withRegion.stderr, `${file}: 1 route would fail every request\nroutes[2].function_name: the function ARN is in eu-west-1 but the route signs for us-east-1 (from aws_region)\n`);
});

t.test('the server warns of such routes at start and on reload, and their requests answer 500', async (t) => {
  const lambda = await startFakeLambda({ secrets: { AKIDWARN: 'warn-secret' }, functions: { '*': () => ({ body: '{"response":"yes"}' }) } });
  t.teardown(() => lambda.close());
  const route = (name: string, extra: string) => `  - { name: ${name}, match: { path_prefix: /${name} }, function_name: F, host: 127.0.0.1, port: ${lambda.port}, disable_https: true${extra} }\n`;
  const file = write('warn.yaml', `listen: 127.0.0.1:0\nroutes:\n${route('good', ', aws_region: us-east-1')}${route('nowhere', '')}`);
  const cli = await startCli(['run', file], { AWS_ACCESS_KEY_ID: 'AKIDWARN', AWS_SECRET_ACCESS_KEY: 'warn-secret' });
  t.teardown(() => cli.stop('SIGKILL'));
  const warnings = () => cli.output().split('\n').filter((line) => line.includes('"msg":"config has routes that fail every request"'));
  const started = warnings();
  t.equal(started.length, 1, 'one warning at start');
  const first = JSON.parse(started[0]!) as { level: string | number; problems: unknown; summary: string };
  t.same(first.problems, [{ path: 'routes[1].aws_region', message: 'no region or host specified: set aws_region (on the route or in defaults), AWS_REGION or AWS_DEFAULT_REGION, a lambda.<region>.amazonaws.com host, or a full function ARN' }]);
  t.match(String(first.level), /^(warn|40)$/);
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  const good = await envoy.send({ path: '/good' });
  t.equal(good.status, 200, 'the other routes serve as before');
  const nowhere = await envoy.send({ path: '/nowhere' });
  t.equal(nowhere.status, 500);
  t.same(JSON.parse(nowhere.body.toString()), { message: 'no region or host specified' }, "Kong's answer, as before");
  t.same(lambda.invocations.map((i) => [i.functionName, i.region]), [['F', 'us-east-1']], 'only the good route reached Lambda');
  t.same(lambda.rejected, []);

  writeFileSync(file, `listen: 127.0.0.1:0\nroutes:\n${route('good', ', aws_region: us-east-1')}  - { name: elsewhere, match: { path_prefix: /elsewhere }, function_name: "arn:aws:lambda:eu-west-1:123456789012:function:f", aws_region: us-east-1 }\n`);
  cli.child.kill('SIGHUP');
  const deadline = Date.now() + 15_000;
  while (warnings().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(warnings().length, 2, 'warned again on reload');
  const reloaded = JSON.parse(warnings()[1]!) as { summary: string };
  t.equal(reloaded.summary, 'routes[1].function_name: the function ARN is in eu-west-1 but the route signs for us-east-1 (from aws_region)');
  const elsewhere = await envoy.send({ path: '/elsewhere' });
  t.equal(elsewhere.status, 500);
  t.same(JSON.parse(elsewhere.body.toString()), { message: 'lambda-extproc route is misconfigured' });
  t.equal(lambda.invocations.length, 1, 'still only the one request reached Lambda');
  t.notMatch(cli.output(), /warn-secret/);
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
