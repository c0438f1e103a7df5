// The fault matrix for the Lambda side: each row asserts what the client got,
// what the fake saw, and that the server still serves the next request.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { within } from '../support/eventually';
import { startHarness, fakeRoute, type Harness } from '../support/harness';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const apiError = (status: number, type: string, headers?: Record<string, string>) => () => ({ apiError: { status, type, message: `${type} from the fake`, ...(headers === undefined ? {} : { headers }) } });

async function servesNext(t: Test, h: Harness): Promise<void> {
  const next = await h.send({ path: '/ok' });
  t.equal(next.status, 200, 'the server still serves the next request');
}

t.test('Lambda fault matrix', async (t) => {
  const refused = await closedPort();
  // The slow function answers only when released (at the end): a 504 cannot come from a late answer.
  let releaseSlow: () => void = () => undefined;
  const slowHeld = new Promise<void>((resolve) => (releaseSlow = resolve));
  const h = await startHarness({
    config: `
routes:
${fakeRoute('ok', 'match: { path: /ok }\nfunction_name: Ok')}
${fakeRoute('svc500', 'match: { path: /500 }\nfunction_name: Svc500')}
${fakeRoute('svc503', 'match: { path: /503 }\nfunction_name: Svc503')}
${fakeRoute('throttled', 'match: { path: /429 }\nfunction_name: Throttled')}
${fakeRoute('toolarge', 'match: { path: /413 }\nfunction_name: TooLarge')}
${fakeRoute('denied', 'match: { path: /403 }\nfunction_name: Denied')}
${fakeRoute('missing', 'match: { path: /404 }\nfunction_name: NoSuchFunction')}
${fakeRoute('preserve', 'match: { path: /preserve }\nfunction_name: Svc503\npreserve_lambda_api_error_code: true')}
${fakeRoute('reset', 'match: { path: /reset }\nfunction_name: Reset')}
${fakeRoute('truncate', 'match: { path: /truncate }\nfunction_name: Truncate')}
${fakeRoute('slow', 'match: { path: /slow }\nfunction_name: Slow\ntimeout: 150')}
${fakeRoute('raw', 'match: { path_prefix: /raw }\nfunction_name: Raw')}
${fakeRoute('proxy', 'match: { path_prefix: /proxy }\nfunction_name: Proxy\nis_proxy_integration: true')}
${fakeRoute('big', 'match: { path: /big }\nfunction_name: Ok\nforward_request_body: true')}
  - name: refused
    match: { path: /refused }
    function_name: F
    aws_region: us-east-1
    host: 127.0.0.1
    port: ${refused}
    disable_https: true
    aws_key: {{key}}
    aws_secret: {{secret}}
`,
    lambda: {
      functions: {
        Ok: () => ({ body: '{"ok":true}' }),
        Svc500: apiError(500, 'ServiceException'),
        Svc503: apiError(503, 'ServiceException'),
        Throttled: apiError(429, 'TooManyRequestsException', { 'Retry-After': '3' }),
        TooLarge: apiError(413, 'RequestTooLargeException'),
        Denied: apiError(403, 'AccessDeniedException'),
        Reset: () => ({ wire: 'reset' }),
        Truncate: () => ({ wire: 'truncate', body: '{"a":"0123456789012345678901234567890123456789"}' }),
        Slow: async () => {
          await slowHeld;
          return { body: '{}' };
        },
        Raw: () => ({ body: '' }),
        Proxy: (call) => ({ body: Buffer.from(JSON.stringify((call.json() as { out?: unknown }).out ?? '')) }),
      },
    },
  });
  t.teardown(() => h.close());
  t.teardown(() => releaseSlow());

  t.test('a refused connection answers 502 from the refusal, not from the route timeout', async (t) => {
    const r = await h.send({ path: '/refused' });
    t.equal(r.status, 502);
    t.same(r.json(), { message: 'Bad Gateway' });
    // The route's timeout is the default 60 s: a 502 with this cause was not a wait for it (that is lambda_timeout, 504).
    t.match(h.logs.filter((l) => l.route === 'refused').at(-1), { cause: 'lambda_unreachable', status: 502, error: /ECONNREFUSED/ });
    await servesNext(t, h);
  });

  t.test('Lambda resetting the connection or truncating its answer is a 502', async (t) => {
    for (const path of ['/reset', '/truncate']) {
      const r = await h.send({ path });
      t.equal(r.status, 502, path);
      t.match(h.logs.filter((l) => l.path === path).at(-1), { cause: 'lambda_unreachable' });
    }
    await servesNext(t, h);
  });

  t.test('Lambda service errors 500 and 503 answer 502 with the AWS code logged', async (t) => {
    for (const path of ['/500', '/503']) {
      const r = await h.send({ path });
      t.equal(r.status, 502, path);
      t.match(h.logs.filter((l) => l.path === path).at(-1), { cause: 'lambda_service', aws_code: 'ServiceException' });
    }
    await servesNext(t, h);
  });

  t.test('throttling answers 429 with Lambda\'s Retry-After', async (t) => {
    const r = await h.send({ path: '/429' });
    t.equal(r.status, 429);
    t.equal(r.header('retry-after'), '3');
    t.match(h.logs.filter((l) => l.path === '/429').at(-1), { cause: 'lambda_throttled', aws_code: 'TooManyRequestsException' });
  });

  t.test('Lambda 413 answers 413; 403 AccessDenied answers 500 with the code logged; 404 answers 502', async (t) => {
    t.equal((await h.send({ path: '/413' })).status, 413);
    const denied = await h.send({ path: '/403' });
    t.equal(denied.status, 500);
    t.match(h.logs.filter((l) => l.path === '/403').at(-1), { cause: 'lambda_denied', aws_code: 'AccessDeniedException' });
    const missing = await h.send({ path: '/404' });
    t.equal(missing.status, 502);
    t.match(h.logs.filter((l) => l.path === '/404').at(-1), { cause: 'lambda_service', aws_code: 'ResourceNotFoundException' });
    await servesNext(t, h);
  });

  t.test("preserve_lambda_api_error_code answers Lambda's own status", async (t) => {
    t.equal((await h.send({ path: '/preserve' })).status, 503);
  });

  t.test('a function slower than the route timeout answers 504 and was invoked exactly once', async (t) => {
    const before = h.lambda.invocations.filter((i) => i.functionName === 'Slow').length;
    const server = (h.lambda as unknown as { server: Server }).server;
    const cutOff = new Promise<boolean>((resolve) => server.once('request', (_req: IncomingMessage, res: ServerResponse) => res.once('close', () => resolve(!res.writableEnded))));
    const started = Date.now();
    const r = await h.send({ path: '/slow' });
    const took = Date.now() - started;
    t.equal(r.status, 504);
    t.same(r.json(), { message: 'Gateway Timeout' });
    // One-sided: a busy machine can only make it later.
    t.ok(took >= 140, `answered after ${took} ms, not before the 150 ms timeout`);
    t.match(h.logs.filter((l) => l.path === '/slow').at(-1), { cause: 'lambda_timeout', status: 504 });
    t.equal(await within(cutOff, 10_000, 'still open'), true, 'the sidecar closed the Lambda connection while the function was still running');
    t.equal(h.lambda.invocations.filter((i) => i.functionName === 'Slow').length - before, 1, 'one attempt, no retry');
    await servesNext(t, h);
  });

  t.test('a payload over 6 MiB after base64 growth answers 413 without invoking', async (t) => {
    const before = h.lambda.invocations.length;
    const body = Buffer.alloc(5 * 1024 * 1024, 7);
    const r = await h.send({ path: '/big', headers: [['content-type', 'application/octet-stream']], body });
    t.equal(r.status, 413);
    t.equal(h.lambda.invocations.length, before, 'Lambda never called');
    await servesNext(t, h);
  });

  t.test('non-JSON, empty and binary function output passes through unchanged', async (t) => {
    const outputs: Array<[string, Buffer]> = [
      ['text', Buffer.from('plain words, not JSON {')],
      ['empty', Buffer.alloc(0)],
      ['binary', Buffer.from([0, 255, 1, 254, 0x80, 0x7f, 10, 13])],
    ];
    for (const [name, output] of outputs) {
      h.lambda.setFunction('Raw', () => ({ body: output, contentType: 'application/octet-stream' }));
      const r = await h.send({ path: `/raw/${name}` });
      t.equal(r.status, 200, name);
      t.ok(r.body.equals(output), `${name} bytes unchanged`);
    }
  });

  t.test('malformed proxy-integration output answers 502 naming the field', async (t) => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['not-object', [1, 2], /statusCode validation failed/], // a JSON array is a Lua table to Kong: no statusCode
      ['bad-status', { statusCode: 'hello' }, /statusCode validation failed/],
      ['bad-headers', { statusCode: 200, headers: 'hello' }, /headers must be a table/],
      ['bad-body', { statusCode: 201, body: 1234 }, /body must be a string/],
      ['bad-base64-flag', { statusCode: 200, body: 'x', isBase64Encoded: 'abc' }, /isBase64Encoded must be a boolean/],
      ['bad-base64', { statusCode: 200, body: 'not base64!', isBase64Encoded: true }, /base64/],
    ];
    for (const [name, out, reason] of cases) {
      const r = await h.send({ path: `/proxy/${name}`, headers: [['content-type', 'application/json']], body: JSON.stringify({ out }) });
      t.equal(r.status, 502, name);
      t.match(r.json(), { message: 'Bad Gateway', error: reason }, name);
    }
    await servesNext(t, h);
  });

  t.test('a malformed JSON body is ignored as Kong ignores it: the query args are the payload', async (t) => {
    const r = await h.send({ path: '/ok?a=1', headers: [['content-type', 'application/json']], body: '{"broken": ' });
    t.equal(r.status, 200);
    t.same(h.lambda.invocations.at(-1)?.json(), { a: '1' });
    const form = await h.send({ path: '/ok?a=1', headers: [['content-type', 'application/x-www-form-urlencoded']], body: '%%%=&&=x&b=%zz' });
    t.equal(form.status, 200);
    t.same(h.lambda.invocations.at(-1)?.json(), { a: '1', '%%%': '', b: '%zz' });
  });
});
