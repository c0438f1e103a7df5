// Endpoint fields: proxy_url (absolute-form for http endpoints, CONNECT for
// https ones), keepalive, a custom host, and the region from AWS_REGION.
// Every name resolves at the loopback proxy fake: nothing leaves 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import t from 'tap';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { startFakeProxy } from '../fakes/proxy';
import { startCli } from '../support/cli';
import { startHarness, fakeRoute, KEY_ID, SECRET } from '../support/harness';

t.test('proxy_url carries plain-http calls, keepalive bounds idle sockets, host names resolve at the proxy', async (t) => {
  const routes: Record<string, number> = {};
  const proxy = await startFakeProxy({ routes });
  t.teardown(() => proxy.close());
  const viaProxy = `proxy_url: ${proxy.url}`;
  const h = await startHarness({
    config: `
routes:
${fakeRoute('pooled', `match: { path: /pooled }
function_name: Pooled
${viaProxy}`)}
${fakeRoute('short', `match: { path: /short }
function_name: Short
keepalive: 1
${viaProxy}`)}
${fakeRoute('custom-host', `match: { path: /custom }
function_name: Custom
${viaProxy}`).replace('host: 127.0.0.1', 'host: custom.lambda.endpoint')}
`,
    lambda: { functions: { '*': () => ({ body: '{"key1":"some_value1"}' }) } },
  });
  t.teardown(() => h.close());
  routes[`custom.lambda.endpoint:${h.lambda.port}`] = h.lambda.port;

  t.test('sends a plain-http invocation through the proxy in absolute form', async (t) => {
    const r = await h.send({ path: '/pooled' });
    t.equal(r.status, 200);
    t.strictSame(proxy.records.at(-1), { method: 'POST', target: `http://127.0.0.1:${h.lambda.port}/2015-03-31/functions/Pooled/invocations` });
    t.equal(h.lambda.invocations.at(-1)?.accessKeyId, KEY_ID, 'the signature survives the proxy');
  });

  t.test('reuses one proxy connection while keepalive allows (default 60 s)', async (t) => {
    await h.send({ path: '/pooled' });
    const before = proxy.connections();
    await h.send({ path: '/pooled' });
    await h.send({ path: '/pooled' });
    t.equal(proxy.connections(), before);
  });

  t.test('closes idle sockets after keepalive ms (keepalive: 1, as Kong #69 configures)', async (t) => {
    await h.send({ path: '/short' });
    const before = proxy.connections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await h.send({ path: '/short' });
    t.equal(proxy.connections(), before + 1);
  });

  t.test('region plus a custom host answers the echo (Kong #68)', async (t) => {
    const r = await h.send({ path: '/custom' });
    t.equal(r.status, 200);
    t.strictSame(r.json(), { key1: 'some_value1' });
    t.equal(h.lambda.invocations.at(-1)?.headers.host, `custom.lambda.endpoint:${h.lambda.port}`);
    t.equal(h.lambda.invocations.at(-1)?.region, 'us-east-1');
  });
});

t.test('reaches the https regional endpoint through a CONNECT tunnel, region from AWS_REGION (Kong #69, #71)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-connect-'));
  const host = 'lambda.us-east-1.amazonaws.com';
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`], { stdio: 'ignore' });
  const lambda = await startFakeLambda({
    secrets: { [KEY_ID]: SECRET },
    functions: { '*': () => ({ body: '{"statusCode":200,"headers":{"Age":"3600"},"multiValueHeaders":{"Access-Control-Allow-Origin":["site1.com","site2.com"]}}' }) },
  });
  t.teardown(() => lambda.close());
  // TLS terminates here, as AWS's endpoint would, then plain HTTP to the fake.
  const front = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (socket) => {
    const upstream = connect(lambda.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const frontPort = (front.address() as { port: number }).port;
  const proxy = await startFakeProxy({ routes: { [`${host}:443`]: frontPort } });
  t.teardown(() => proxy.close());
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
routes:
  - name: lambda19
    match: { path: /lambda19 }
    function_name: functionWithMultiValueHeadersResponse
    is_proxy_integration: true
    keepalive: 1
    proxy_url: ${proxy.url}
    aws_key: ${KEY_ID}
    aws_secret: ${SECRET}
`,
  );
  const cli = await startCli(['--config', file], { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'), AWS_REGION: 'us-east-1' });
  t.teardown(() => cli.stop());
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  const r = await envoy.send({ path: '/lambda19' });
  t.equal(r.status, 200, cli.output());
  t.equal(r.header('age'), '3600');
  t.strictSame(r.headerValues('access-control-allow-origin'), ['site1.com', 'site2.com']);
  t.strictSame(proxy.records.map((x) => `${x.method} ${x.target}`), [`CONNECT ${host}:443`], 'one CONNECT to the regional endpoint');
  t.equal(lambda.invocations[0]?.headers.host, host, 'TLS and SigV4 for the real host name');
  t.equal(lambda.invocations[0]?.region, 'us-east-1');
});
