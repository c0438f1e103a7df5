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
});

// What the function itself receives is another matter: it is the request's
// owner, and each payload mode hands it what Kong or API Gateway would.
t.test('credential headers reach the function by payload mode: not in legacy or forward_* without headers; in full with forward_request_headers and in API Gateway events', async (t) => {
  const SESSION = 'client-session-token-0000-SECRET';
  const h = await startHarness({
    config: `
routes:
${fakeRoute('legacy', 'match: { path: /legacy }\nfunction_name: Legacy')}
${fakeRoute('method-only', 'match: { path: /method-only }\nfunction_name: MethodOnly\nforward_request_method: true\nforward_request_uri: true\nforward_request_body: true')}
${fakeRoute('forward', 'match: { path: /forward }\nfunction_name: Forward\nforward_request_headers: true')}
${fakeRoute('apigw1', 'match: { path: /apigw1 }\nfunction_name: Gateway1\nawsgateway_compatible: true')}
${fakeRoute('apigw2', 'match: { path: /apigw2 }\nfunction_name: Gateway2\nawsgateway_compatible: true\nawsgateway_compatible_payload_version: "2.0"')}
`,
    lambda: { functions: { '*': () => ({ body: '{}' }) } },
  });
  t.teardown(() => h.close());
  const headers: Array<readonly [string, string]> = [
    ['authorization', CLIENT_TOKEN],
    ['cookie', COOKIE],
    ['x-amz-security-token', SESSION],
  ];
  const payloadOf = async (path: string): Promise<{ text: string; json: Record<string, unknown>; sessionToken: string | undefined }> => {
    const r = await h.send({ path, headers });
    t.equal(r.status, 200, path);
    const invocation = h.lambda.invocations.at(-1);
    return { text: invocation?.payload.toString() ?? '', json: invocation?.json() as Record<string, unknown>, sessionToken: invocation?.sessionToken };
  };
  const secretsIn = (text: string) => [CLIENT_TOKEN, 'cookie-secret', SESSION].filter((secret) => text.includes(secret));

  for (const path of ['/legacy', '/method-only']) {
    const { text, sessionToken } = await payloadOf(path);
    t.same(secretsIn(text), [], `${path}: none of the three in the payload`);
    t.equal(sessionToken, undefined, `${path}: the client's x-amz-security-token is not taken for the signing session token`);
  }

  const forward = await payloadOf('/forward');
  t.match(forward.json.request_headers, { authorization: CLIENT_TOKEN, cookie: COOKIE, 'x-amz-security-token': SESSION }, 'forward_request_headers: all three, as Kong forwards them');
  t.equal(forward.sessionToken, undefined, 'and the signature still carries no session token');

  const v1 = await payloadOf('/apigw1');
  t.match(v1.json.headers, { authorization: CLIENT_TOKEN, cookie: COOKIE, 'x-amz-security-token': SESSION }, 'API Gateway 1.0: all three in headers');
  t.match(v1.json.multiValueHeaders, { authorization: [CLIENT_TOKEN], cookie: [COOKIE], 'x-amz-security-token': [SESSION] }, 'and in multiValueHeaders');

  const v2 = await payloadOf('/apigw2');
  t.match(v2.json.headers, { authorization: CLIENT_TOKEN, 'x-amz-security-token': SESSION }, 'API Gateway 2.0: authorization and x-amz-security-token in headers');
  t.equal((v2.json.headers as Record<string, unknown>).cookie, undefined, 'cookie is not among the 2.0 headers');
  t.same(v2.json.cookies, [COOKIE], 'it is in cookies, as AWS sends it');

  const logs = h.rawLogs();
  t.same(secretsIn(logs), [], 'and none of them is logged, whatever the payload carried');
});
