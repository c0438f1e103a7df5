// Header bytes are UTF-8 both ways, end to end: a client's UTF-8 header
// reaches the function as the same text; bytes that are not UTF-8 reach it as
// latin1 (one character per byte) in valid JSON; the function's non-ASCII
// header values and Lambda's own leave as UTF-8 bytes. And a header line that
// would split the response (a 2.0 cookie with CR/LF) never reaches the client.
import { request } from 'node:http';
import t from 'tap';
import { startFrontDoor } from '../../src/dev/front-door';
import { startFakeProxy } from '../fakes/proxy';
import { startHarness, fakeRoute } from '../support/harness';

const utf8 = (text: string): number[] => [...Buffer.from(text, 'utf8')];

t.test('header encoding through the sidecar', async (t) => {
  const proxy = await startFakeProxy();
  t.teardown(() => proxy.close());
  const h = await startHarness({
    config: `
routes:
${fakeRoute('forward', 'match: { path: /forward }\nfunction_name: Echo\nforward_request_headers: true')}
${fakeRoute('gateway', 'match: { path: /gateway }\nfunction_name: Echo\nawsgateway_compatible: true')}
${fakeRoute('out', 'match: { path: /out }\nfunction_name: Out\nis_proxy_integration: true')}
${fakeRoute('v2', 'match: { path: /v2 }\nfunction_name: V2\nis_proxy_integration: true\nawsgateway_compatible: true\nawsgateway_compatible_payload_version: "2.0"')}
${fakeRoute('lambda-headers', 'match: { path: /lambda-headers }\nfunction_name: LambdaHeaders')}
${fakeRoute('lambda-headers-sdk', `match: { path: /sdk/lambda-headers }\nfunction_name: LambdaHeaders\nproxy_url: ${proxy.url}`)}
`,
    lambda: {
      functions: {
        Echo: () => ({ body: '{}' }),
        Out: () => ({ body: JSON.stringify({ statusCode: 200, headers: { 'x-word': 'café', 'x-name': 'José' }, multiValueHeaders: { 'x-snow': ['☃', 'a😀b'] }, body: 'ok' }) }),
        V2: (call) => ({ body: JSON.stringify((call.json() as { headers?: Record<string, string> }).headers?.['x-mode'] === 'inject' ? { statusCode: 200, cookies: ['ok=1', 'a=b\r\nX-Injected: 1'], body: 'x' } : { statusCode: 200, cookies: ['name=José; Path=/'], body: 'x' }) }),
        // node:http writes header text one byte per character: these are the UTF-8 bytes of "café ☃".
        LambdaHeaders: () => ({ body: '{}', headers: { 'X-Amz-Custom': Buffer.from('café ☃', 'utf8').toString('latin1') } }),
      },
    },
  });
  t.teardown(() => h.close());
  const payload = () => h.lambda.invocations.at(-1)?.json() as { request_headers?: Record<string, unknown>; headers?: Record<string, unknown> };

  t.test('a UTF-8 request header reaches the function as the same text (Kong forward payload and API Gateway event)', async (t) => {
    const r = await h.send({ path: '/forward', headers: [['x-name', 'José'], ['x-snow', '☃ 😀'], ['x-plain', 'ascii']] });
    t.equal(r.status, 200);
    t.match(payload().request_headers, { 'x-name': 'José', 'x-snow': '☃ 😀', 'x-plain': 'ascii' });
    t.ok(h.lambda.invocations.at(-1)?.payload.includes(Buffer.from('"José"', 'utf8')), 'as UTF-8 bytes in the payload');
    const g = await h.send({ path: '/gateway', headers: [['x-name', 'José']] });
    t.equal(g.status, 200);
    t.match(payload().headers, { 'x-name': 'José' });
  });

  t.test('bytes that are not UTF-8 reach the function as latin1, one character per byte, in valid JSON', async (t) => {
    const latin1 = Buffer.from([0x4a, 0x6f, 0x73, 0xe9]); // "José" in ISO-8859-1
    const garbage = Buffer.from([0xff, 0xfe, 0x80, 0x41, 0xc3]); // no UTF-8 reading at all
    const truncated = Buffer.from([0x63, 0x61, 0x66, 0xc3]); // "caf" and half of "é"
    const r = await h.send({ path: '/forward', headers: [['x-latin1', latin1], ['x-garbage', garbage], ['x-truncated', truncated]] });
    t.equal(r.status, 200);
    const raw = h.lambda.invocations.at(-1)?.payload ?? Buffer.alloc(0);
    t.ok(Buffer.from(raw.toString('utf8'), 'utf8').equals(raw), 'the payload is valid UTF-8');
    const headers = payload().request_headers ?? {};
    t.equal(headers['x-latin1'], 'José');
    t.equal(headers['x-garbage'], '\u00ff\u00fe\u0080A\u00c3');
    t.equal(headers['x-truncated'], 'caf\u00c3');
    t.ok(Buffer.from(headers['x-garbage'] as string, 'latin1').equals(garbage), 'the function can get the exact bytes back');
  });

  t.test("the function's non-ASCII header values leave as UTF-8 bytes", async (t) => {
    const r = await h.send({ path: '/out' });
    t.equal(r.status, 200);
    t.strictSame([...(r.headerBytes('x-word') ?? [])], utf8('café'), 'café is 63 61 66 c3 a9, not latin1 e9');
    t.equal(r.header('x-name'), 'José');
    t.strictSame(r.headerValues('x-snow'), ['☃', 'a😀b']);
    t.strictSame(r.rawHeaders.filter(([k]) => k === 'x-snow').map(([, v]) => [...v]), [utf8('☃'), utf8('a😀b')]);
    const v2 = await h.send({ path: '/v2' });
    t.strictSame([...(v2.headerBytes('set-cookie') ?? [])], utf8('name=José; Path=/'));
  });

  t.test("Lambda's own non-ASCII header bytes pass through unchanged, on the lean and the SDK path", async (t) => {
    for (const path of ['/lambda-headers', '/sdk/lambda-headers']) {
      const r = await h.send({ path });
      t.equal(r.status, 200, path);
      t.strictSame([...(r.headerBytes('x-amz-custom') ?? [])], utf8('café ☃'), path);
    }
  });

  t.test('`lambda-extproc dev` (the front door) passes header bytes through unchanged both ways', async (t) => {
    const door = await startFrontDoor({ listen: '127.0.0.1:0', extproc: `127.0.0.1:${h.app.port}`, maxBodyBytes: 1024 * 1024 });
    t.teardown(() => door.close());
    // node:http writes and reads header text one byte per character: latin1 text carries the bytes.
    const answer = await new Promise<{ status: number; word: Buffer }>((resolve, reject) => {
      const headers = { 'x-name': Buffer.from('José', 'utf8').toString('latin1') };
      const req = request({ host: '127.0.0.1', port: door.port, path: '/out', headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, word: Buffer.from(String(res.headers['x-word']), 'latin1') }));
      });
      req.on('error', reject);
      req.end();
    });
    t.equal(answer.status, 200);
    t.strictSame([...answer.word], utf8('café'), 'the UTF-8 bytes reach the HTTP client');
    const forward = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: door.port, path: '/forward', headers: { 'x-name': Buffer.from('José', 'utf8').toString('latin1') }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    t.equal(forward, 200);
    t.match(payload().request_headers, { 'x-name': 'José' }, 'the client\'s UTF-8 bytes reach the function as José');
  });

  t.test('a 2.0 cookie carrying CR/LF is a 502 and no injected header reaches the client', async (t) => {
    const r = await h.send({ path: '/v2', headers: [['x-mode', 'inject']] });
    t.equal(r.status, 502);
    t.match(r.json(), { message: 'Bad Gateway', error: 'could not JSON decode Lambda function response: cookies[1] holds a line break' });
    t.equal(r.header('x-injected'), undefined);
    t.strictSame(r.headerValues('set-cookie'), []);
    t.match(h.logs.filter((line) => line.path === '/v2').at(-1), { cause: 'bad_function_output', status: 502 });
  });
});
