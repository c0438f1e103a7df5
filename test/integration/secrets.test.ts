// Known secret strings travel through every path, failures included, and
// never appear in a log line or a response.
import t from 'tap';
import { startHarness, fakeRoute, KEY_ID, SECRET } from '../support/harness';

const CLIENT_TOKEN = 'Bearer client-token-0000-SECRET';
const COOKIE = 'session=cookie-secret-0000';

t.test('no secret reaches logs or responses, whatever happens to the request', async (t) => {
  const h = await startHarness({
    config: `
routes:
${fakeRoute('ok', 'match: { path: /ok }\nfunction_name: Ok')}
${fakeRoute('forward', 'match: { path: /forward }\nfunction_name: Ok\nforward_request_headers: true')}
${fakeRoute('slow', 'match: { path: /slow }\nfunction_name: Slow\ntimeout: 100')}
${fakeRoute('fail', 'match: { path: /fail }\nfunction_name: Fail')}
${fakeRoute('proxy', 'match: { path: /proxy }\nfunction_name: Ok\nis_proxy_integration: true')}
${fakeRoute('wrong', 'match: { path: /wrong }\nfunction_name: Ok').replace('{{secret}}', 'wrong-secret-0000-SECRET')}
`,
    lambda: {
      functions: {
        Ok: () => ({ body: '{"fine":true}' }),
        Slow: () => ({ delayMs: 400 }),
        Fail: () => ({ apiError: { status: 500, type: 'ServiceException', message: 'boom' } }),
      },
    },
  });
  t.teardown(() => h.close());
  const headers: Array<readonly [string, string]> = [
    ['authorization', CLIENT_TOKEN],
    ['cookie', COOKIE],
    ['x-api-key', 'api-key-0000-SECRET'],
  ];
  const responses = [];
  for (const path of ['/ok', '/forward', '/slow', '/fail', '/proxy', '/wrong', '/unmatched']) {
    responses.push(await h.send({ path, headers }));
  }
  responses.push(await h.send({ path: '/ok', headers, metadata: { 'x-lambda-extproc-route': 'missing' } }));
  t.same(
    responses.map((r) => r.status),
    [200, 200, 504, 502, 502, 500, 200, 500],
    'each scenario answered as the fault matrix says',
  );
  const logs = h.rawLogs();
  t.ok(logs.length > 0, 'there are logs to search');
  for (const secret of [SECRET, KEY_ID, 'wrong-secret-0000-SECRET', CLIENT_TOKEN, 'client-token', COOKIE, 'api-key-0000', 'Signature=', 'AWS4-HMAC-SHA256']) {
    t.notOk(logs.includes(secret), `logs do not contain ${secret.slice(0, 12)}…`);
    t.notOk(responses.some((r) => r.body.toString('latin1').includes(secret) || r.headers.some(([, v]) => v.includes(secret))), `responses do not contain ${secret.slice(0, 12)}…`);
  }
  const legacy = h.lambda.invocations.find((i) => i.functionName === 'Ok' && !('request_headers' in (i.json() as object)));
  t.notMatch(legacy?.payload.toString(), /client-token|cookie-secret/, 'credential headers reach the function only with forward_request_headers');
  const forwarded = h.lambda.invocations.find((i) => 'request_headers' in (i.json() as object));
  t.match((forwarded?.json() as { request_headers: Record<string, string> }).request_headers, { authorization: CLIENT_TOKEN, cookie: COOKIE }, 'and then as Kong forwards them');
});
