import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { curl } from '../support/curl';
import { startFakeLambda } from '../fakes/lambda';
import { startCli } from '../support/cli';

t.test('dev: curl-like round trips through the front door, the ext_proc server and Lambda', async (t) => {
  const lambda = await startFakeLambda({
    secrets: { AKIDDEV0000000000001: 'dev-secret' },
    functions: {
      hello: () => ({ body: '{"response":"yes"}' }),
      echo: (invocation) => ({ body: JSON.stringify(invocation.json()) }),
      crash: () => ({ body: '{"errorMessage":"boom"}', functionError: 'Unhandled' }),
    },
  });
  t.teardown(() => lambda.close());
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-dev-'));
  const file = join(dir, 'dev.yaml');
  const route = (name: string, extra = '') =>
    `  - name: ${name}\n    match: { path_prefix: /${name} }\n    function_name: ${name}\n    host: 127.0.0.1\n    port: ${lambda.port}\n    disable_https: true\n${extra}`;
  writeFileSync(
    file,
    `listen: 127.0.0.1:0\ndefaults:\n  aws_region: us-east-1\n  aws_key: AKIDDEV0000000000001\n  aws_secret: dev-secret\nroutes:\n${route('hello')}${route('echo', '    forward_request_body: true\n    forward_request_method: true\n    forward_request_headers: true\n')}${route('crash', '    unhandled_status: 412\n')}`,
  );
  const cli = await startCli(['dev', '--config', file, '--http', '127.0.0.1:0']);
  t.teardown(() => cli.stop('SIGKILL'));
  let port = 0;
  for (let i = 0; i < 200 && port === 0; i++) {
    const found = /"port":(\d+)[^\n]*dev front door listening/.exec(cli.output());
    if (found !== null) port = Number(found[1]);
    else await new Promise((r) => setTimeout(r, 25));
  }
  t.ok(port > 0, 'front door listening line');

  const hello = await curl(port, '/hello');
  t.equal(hello.status, 200);
  t.equal(hello.body, '{"response":"yes"}');
  t.equal(hello.headers['content-type'], 'application/json');
  t.match(String(hello.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
  t.equal(hello.headers['content-length'], String(hello.body.length));

  const echo = await curl(port, '/echo?x=1', { method: 'POST', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-custom': 'kept' } });
  t.equal(echo.status, 200);
  t.match(
    JSON.parse(echo.body),
    { request_method: 'POST', request_body: 'a=1&b=2', request_body_args: { a: '1', b: '2' }, request_headers: { 'x-custom': 'kept', 'content-type': 'application/x-www-form-urlencoded' } },
    "method, headers and body reached Lambda in Kong's payload",
  );

  const crash = await curl(port, '/crash');
  t.equal(crash.status, 412);
  t.equal(crash.headers['x-amz-function-error'], 'Unhandled');

  const none = await curl(port, '/nowhere');
  t.equal(none.status, 404);
  t.equal(none.body, 'no lambda-extproc route matched\n');

  t.equal(lambda.invocations.length, 3, 'one invocation per Lambda request, none for the unmatched one');
  t.equal(await cli.stop('SIGTERM'), 0);
  t.notMatch(cli.output(), /dev-secret/);
});
