// Request facts end to end through the gRPC server: the client address comes
// from Envoy's source.address attribute only, path_regex matches the whole
// path, and the request line logs a bounded path without its query.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import type { ProcessingRequest } from '../../src/extproc/messages';
import { createEnvoyClient } from '../envoy-client';
import { startFakeLambda } from '../fakes/lambda';
import { startCli } from '../support/cli';
import { fakeRoute, startHarness, type Harness } from '../support/harness';

const ROUTES = [
  fakeRoute('v1', "match: { path_prefix: /v1 }\nfunction_name: v1-fn\nawsgateway_compatible: true"),
  fakeRoute('v2', "match: { path_prefix: /v2 }\nfunction_name: v2-fn\nawsgateway_compatible: true\nawsgateway_compatible_payload_version: '2.0'"),
  fakeRoute('private', "match: { path_regex: '/private/(?<id>[0-9]+)' }\nfunction_name: private-fn\nawsgateway_compatible: true"),
  fakeRoute('plain', 'match: { path_prefix: /plain }\nfunction_name: plain-fn'),
].join('');

/** The first message Envoy sends, attributes as its ext_proc filter fills them. */
function headersMessage(path: string, headers: Array<[string, string]>, attributes: Record<string, string>): ProcessingRequest {
  const lines: Array<[string, string]> = [[':method', 'GET'], [':path', path], [':authority', 'api.example.test'], [':scheme', 'https'], ...headers];
  const fields = Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { stringValue: value }]));
  return {
    request_headers: { headers: { headers: lines.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) }, end_of_stream: true },
    ...(Object.keys(fields).length === 0 ? {} : { attributes: { 'envoy.filters.http.ext_proc': { fields } } }),
    protocol_config: { request_body_mode: 2, response_body_mode: 0 },
  };
}

const SPOOFED: Array<[string, string]> = [
  ['x-forwarded-for', '6.6.6.6, 10.0.0.9'],
  ['x-envoy-external-address', '7.7.7.7'],
];

async function lastEvent(h: Harness, path: string, attributes: Record<string, string>): Promise<Record<string, unknown>> {
  const before = h.lambda.invocations.length;
  const exchange = await h.envoy.sendRaw([headersMessage(path, SPOOFED, attributes)]);
  // An override_message_timeout may come first when the call outlasts half of Envoy's message_timeout.
  if (!exchange.received.some((message) => message.immediate_response !== undefined)) throw new Error(`no immediate response for ${path}: code ${exchange.code}`);
  if (h.lambda.invocations.length !== before + 1) throw new Error(`${path} did not invoke`);
  return h.lambda.invocations.at(-1)?.json() as Record<string, unknown>;
}

t.test("API Gateway events take sourceIp from Envoy's source.address, port dropped, never from a client header", async (t) => {
  const h = await startHarness({ config: `routes:\n${ROUTES}` });
  t.teardown(() => h.close());
  const v1 = await lastEvent(h, '/v1/x', { 'source.address': '203.0.113.7:51234' });
  t.match(v1.requestContext, { identity: { sourceIp: '203.0.113.7' } }, '1.0: requestContext.identity.sourceIp');
  t.match(v1.headers, { 'x-forwarded-for': '6.6.6.6, 10.0.0.9' }, 'the spoofed header still reaches the function as a header');
  const v2 = await lastEvent(h, '/v2/x', { 'source.address': '[2001:db8::5]:443', 'request.protocol': 'HTTP/2' });
  t.match(v2.requestContext, { http: { sourceIp: '2001:db8::5', protocol: 'HTTP/2' } }, '2.0: requestContext.http.sourceIp, IPv6 without brackets and port');
  const none = await lastEvent(h, '/v1/y', {});
  t.notOk('sourceIp' in ((none.requestContext as { identity: object }).identity), 'no attribute: no sourceIp (not the X-Forwarded-For entry)');
  const none2 = await lastEvent(h, '/v2/y', {});
  t.notOk('sourceIp' in ((none2.requestContext as { http: object }).http), 'the same in 2.0');
});

t.test('path_regex must match the whole path: a match inside the path is let through to Envoy', async (t) => {
  const h = await startHarness({ config: `routes:\n${ROUTES}` });
  t.teardown(() => h.close());
  const inside = await h.send({ path: '/public/x/private/1' });
  t.equal(inside.outcome, 'upstream', 'CONTINUE: no route fits, Envoy proxies it');
  t.equal(h.lambda.invocations.length, 0, 'the private function was not invoked');
  const whole = await h.send({ path: '/private/42?x=1' });
  t.equal(whole.status, 200);
  t.same((h.lambda.invocations.at(-1)?.json() as { pathParameters: unknown }).pathParameters, { id: '42' }, 'named captures become pathParameters');
});

t.test('log_query: the query is logged only when on, and a reload turns it off again', async (t) => {
  const h = await startHarness({ config: `log_query: true\nroutes:\n${ROUTES}` });
  t.teardown(() => h.close());
  t.equal((await h.send({ path: '/plain/a?token=first-secret' })).status, 200);
  t.match(h.logs.find((line) => line.msg === 'request'), { path: '/plain/a?token=first-secret' });
  const off = parseConfig(`routes:\n${ROUTES.replaceAll('{{lambda}}', String(h.lambda.port)).replaceAll('{{key}}', 'AKIDEXAMPLEFAKE00001').replaceAll('{{secret}}', 'fake/Secret+Key0000000000000000000000001')}`, {});
  if (!off.ok) throw new Error(JSON.stringify(off.problems));
  t.equal(off.config.log_query, false, 'off by default');
  h.app.reload(off.config);
  t.equal((await h.send({ path: '/plain/b?token=second-secret' })).status, 200);
  t.match(h.logs.filter((line) => line.msg === 'request').at(-1), { path: '/plain/b' });
  t.notOk(h.rawLogs().includes('second-secret'), 'after the reload the token is not logged');
});

t.test('on stdout: ?token=secret never appears, and a 4 MiB path writes a bounded line', async (t) => {
  const lambda = await startFakeLambda({ secrets: { AKIDLOGS: 'logs-secret' }, functions: { '*': () => ({ body: '{}' }) } });
  t.teardown(() => lambda.close());
  const file = join(mkdtempSync(join(tmpdir(), 'lambda-extproc-logs-')), 'config.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nroutes:\n  - name: plain\n    match: { path_prefix: /plain }\n    function_name: plain-fn\n    aws_region: us-east-1\n    host: 127.0.0.1\n    port: ${lambda.port}\n    disable_https: true\n    aws_key: AKIDLOGS\n    aws_secret: logs-secret\n`);
  const cli = await startCli(['--config', file]);
  t.teardown(() => cli.stop('SIGKILL'));
  const envoy = createEnvoyClient(`127.0.0.1:${cli.port}`);
  t.teardown(() => envoy.close());
  const huge = `/plain/${'a'.repeat(4 * 1024 * 1024)}`;
  const answers = await Promise.all([envoy.send({ path: '/plain/login?token=secret-abc&user=me' }), envoy.send({ path: `${huge}?token=secret-def` })]);
  t.same(answers.map((a) => a.status), [200, 200]);
  t.equal(lambda.invocations.length, 2, 'both reached the function');
  const complete = (): string[] => cli.output().split('\n').slice(0, -1).filter((line) => line.includes('"msg":"request"'));
  for (let i = 0; i < 100 && complete().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const lines = complete();
  t.equal(lines.length, 2, 'two request lines');
  t.notOk(cli.output().includes('secret-'), 'no token anywhere on stdout');
  const paths = lines.map((line) => (JSON.parse(line) as { path: string }).path).sort((a, b) => a.length - b.length);
  t.equal(paths[0], '/plain/login', 'the path without its query');
  t.equal(paths[1], `${huge.slice(0, 1024)}...[+${huge.length - 1024} chars]`, 'the first 1024 characters and how many were cut');
  const longest = Math.max(...cli.output().split('\n').map((line) => line.length));
  t.ok(longest < 2048, `the longest stdout line is ${longest} characters for a ${huge.length}-character path`);
});
