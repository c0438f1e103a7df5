// HTTPS to Lambda, the default (disable_https: false), with certificate
// verification on: a fake Lambda behind TLS with certificates from a test CA
// made here. The sidecar runs as a CLI child, because NODE_EXTRA_CA_CERTS is
// read once at process start. Both invoke paths: the lean one (undici) and
// the SDK one (routes with proxy_url, through a CONNECT tunnel).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createEnvoyClient, type EnvoyClient } from '../envoy-client';
import { startFakeLambda, type FakeLambda } from '../fakes/lambda';
import { startFakeProxy, type FakeProxy } from '../fakes/proxy';
import { createTestCa, startTlsFront, type TlsFront } from '../fakes/tls-ca';
import { startCli, type StartedCli } from '../support/cli';
import { eventually } from '../support/eventually';
import { KEY_ID, SECRET } from '../support/harness';

const OUTPUT = '{"from":"the function, over https"}';

interface Setup {
  readonly lambda: FakeLambda;
  readonly good: TlsFront;
  readonly wrongHost: TlsFront;
  readonly proxy: FakeProxy;
  readonly config: string;
  readonly caFile: string;
}

async function setup(t: Test): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-https-'));
  const ca = createTestCa();
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const lambda = await startFakeLambda({ secrets: { [KEY_ID]: SECRET }, functions: { '*': () => ({ body: OUTPUT }) } });
  t.teardown(() => lambda.close());
  const good = await startTlsFront(ca.issue({ dns: ['localhost'], ip: ['127.0.0.1'] }), lambda.port);
  t.teardown(() => good.close());
  // Signed by the same trusted CA, but for another name: only the host check can refuse it.
  const wrongHost = await startTlsFront(ca.issue({ dns: ['lambda.other-host.example'] }), lambda.port);
  t.teardown(() => wrongHost.close());
  const proxy = await startFakeProxy();
  t.teardown(() => proxy.close());
  const route = (name: string, host: string, port: number, extra = '') =>
    `  - name: ${name}\n    match: { path: /${name} }\n    function_name: fn-${name}\n    aws_region: us-east-1\n    host: ${host}\n    port: ${port}\n    aws_key: ${KEY_ID}\n    aws_secret: ${SECRET}\n${extra}`;
  const viaProxy = `    proxy_url: ${proxy.url}\n`;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\nroutes:\n${[
      route('lean-localhost', 'localhost', good.port),
      route('lean-ip', '127.0.0.1', good.port),
      route('sdk-localhost', 'localhost', good.port, viaProxy),
      route('lean-wrong-host', 'localhost', wrongHost.port),
      route('sdk-wrong-host', 'localhost', wrongHost.port, viaProxy),
    ].join('')}`,
  );
  return { lambda, good, wrongHost, proxy, config, caFile };
}

async function sidecar(t: Test, s: Setup, env: NodeJS.ProcessEnv): Promise<{ cli: StartedCli; envoy: EnvoyClient }> {
  const cli = await startCli(['--config', s.config], env);
  t.teardown(() => cli.stop('SIGKILL'));
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  return { cli, envoy };
}

/** The child's log line for a failed request on `route`: it comes through a pipe, so it may follow the answer. */
async function failureLine(cli: StartedCli, route: string): Promise<Record<string, unknown> | undefined> {
  const find = () =>
    cli
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.endsWith('}'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === 'request failed' && line.route === route);
  await eventually(() => find() !== undefined);
  return find();
}

t.test('Lambda over HTTPS with the CA trusted through NODE_EXTRA_CA_CERTS', async (t) => {
  const s = await setup(t);
  const { cli, envoy } = await sidecar(t, s, { NODE_EXTRA_CA_CERTS: s.caFile });

  for (const [route, host] of [
    ['lean-localhost', 'localhost'],
    ['lean-ip', '127.0.0.1'],
    ['sdk-localhost', 'localhost'],
  ] as const) {
    t.test(`${route}: 200 with the function's output, signed for ${host}`, async (t) => {
      const before = s.lambda.invocations.length;
      const r = await envoy.send({ path: `/${route}` });
      t.equal(r.status, 200, cli.output());
      t.equal(r.body.toString(), OUTPUT, "the function's output, unchanged");
      const invocation = s.lambda.invocations.at(-1);
      t.equal(s.lambda.invocations.length, before + 1, 'one invocation reached the fake through TLS');
      t.equal(invocation?.functionName, `fn-${route}`);
      t.equal(invocation?.accessKeyId, KEY_ID, 'its SigV4 signature verified against the key');
      t.equal(invocation?.region, 'us-east-1');
      t.equal(invocation?.headers.host, `${host}:${s.good.port}`, 'signed for the host it connected to');
    });
  }
  t.test('the SDK route went through the proxy as a CONNECT tunnel', async (t) => {
    t.ok(s.proxy.records.some((record) => record.method === 'CONNECT' && record.target === `localhost:${s.good.port}`));
  });

  for (const route of ['lean-wrong-host', 'sdk-wrong-host']) {
    t.test(`${route}: a certificate from the trusted CA for another host answers 502, naming the host mismatch`, async (t) => {
      const before = s.lambda.invocations.length;
      const r = await envoy.send({ path: `/${route}` });
      t.equal(r.status, 502);
      t.same(r.json(), { message: 'Bad Gateway' });
      t.equal(s.lambda.invocations.length, before, 'nothing reached the fake');
      t.match(await failureLine(cli, route), { status: 502, cause: 'lambda_unreachable', error: /Hostname\/IP does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/ });
    });
  }
  t.test('no request was signed with a wrong key', async (t) => {
    t.same(s.lambda.rejected, []);
  });
});

t.test('Lambda over HTTPS without the CA: 502 naming the certificate problem, nothing sent', async (t) => {
  const s = await setup(t);
  const { cli, envoy } = await sidecar(t, s, {});
  for (const route of ['lean-localhost', 'lean-ip', 'sdk-localhost']) {
    const r = await envoy.send({ path: `/${route}` });
    t.equal(r.status, 502, route);
    t.same(r.json(), { message: 'Bad Gateway' }, route);
    t.match(await failureLine(cli, route), { status: 502, cause: 'lambda_unreachable', error: /unable to verify the first certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE/ }, `${route}: the log names the certificate problem`);
  }
  t.equal(s.lambda.invocations.length, 0, 'no invocation reached the fake');
  t.equal(s.good.connections(), 0, 'no TLS handshake to the fake completed');
  t.notMatch(cli.output(), new RegExp(SECRET.replace(/[+/]/g, '\\$&')), 'the secret key is not logged');
});
