import t from 'tap';
import { startHarness, fakeRoute, KEY_ID } from '../support/harness';

const config = `
routes:
${fakeRoute('lambda1', `match: { path_prefix: /lambda1 }
function_name: MyLambda`)}
${fakeRoute('by-name', `function_name: NamedFunction`)}
${fakeRoute('forward', `match: { path_prefix: /forward }
function_name: Forwarder
forward_request_method: true
forward_request_uri: true
forward_request_headers: true
forward_request_body: true`)}
${fakeRoute('event', `match: { path: /event }
function_name: EventFn
invocation_type: Event`)}
${fakeRoute('dryrun', `match: { path: /dryrun }
function_name: DryFn
invocation_type: DryRun`)}
${fakeRoute('unhandled', `match: { path: /unhandled }
function_name: Failing
unhandled_status: 412`)}
${fakeRoute('unhandled-default', `match: { path: /unhandled-default }
function_name: Failing`)}
${fakeRoute('post-only', `match: { path: /post-only, methods: [POST] }
function_name: PostOnly`)}
`;

t.test('walking skeleton: Envoy stand-in → sidecar → fake Lambda', async (t) => {
  const h = await startHarness({
    config,
    lambda: {
      functions: {
        MyLambda: () => ({ body: '{"response": "yes"}' }),
        Failing: () => ({ functionError: 'Unhandled', body: '{"errorMessage":"boom","errorType":"Error"}' }),
        '*': () => ({}),
      },
    },
  });
  t.teardown(() => h.close());

  t.test("answers Kong's /lambda1 example with the function output and Amazon's headers", async (t) => {
    const r = await h.send({ path: '/lambda1' });
    t.equal(r.outcome, 'immediate');
    t.equal(r.status, 200);
    t.equal(r.body.toString(), '{"response": "yes"}', 'function output passes through byte for byte');
    t.equal(r.header('content-type'), 'application/json');
    t.match(r.header('x-amzn-requestid'), /^[0-9a-f-]{36}$/);
    t.match(r.header('x-amzn-trace-id'), /^Root=1-/);
    t.equal(r.header('x-amzn-remapped-content-length'), '0');
    t.equal(r.header('content-length'), '19');
    const call = h.lambda.invocations.at(-1);
    t.equal(call?.functionName, 'MyLambda');
    t.equal(call?.accessKeyId, KEY_ID, 'signed with the route key');
    t.equal(call?.region, 'us-east-1', 'region in the credential scope');
    t.equal(call?.invocationType, 'RequestResponse');
    t.equal(call?.logType, 'None', 'log_type defaults to None');
    t.same(call?.json(), {}, 'a GET without args sends {}');
    t.equal(r.sent.length, 1, 'a bodiless request is answered on its headers message');
  });

  t.test('merges query arguments with a form body (body wins, + and %XX decoded)', async (t) => {
    const r = await h.send({
      path: '/lambda1/post?key1=from_querystring&key2=query&flag&multi=1&multi=2',
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: 'key2=some+value%21&key3=v3',
    });
    t.equal(r.status, 200);
    t.same(h.lambda.invocations.at(-1)?.json(), { key1: 'from_querystring', key2: 'some value!', flag: true, multi: ['1', '2'], key3: 'v3' });
    t.equal(r.sent.length, 2, 'headers answered CONTINUE, then one BUFFERED body message');
    t.ok(r.received[0]?.request_headers, 'the headers message got a request_headers CONTINUE');
  });

  t.test('merges a JSON body and passes a lone JSON array as the payload', async (t) => {
    await h.send({ path: '/lambda1?key1=q', headers: [['content-type', 'application/json']], body: '{"key2":"some_value_json2","n":1}' });
    t.same(h.lambda.invocations.at(-1)?.json(), { key1: 'q', key2: 'some_value_json2', n: 1 });
    await h.send({ path: '/lambda1', headers: [['content-type', 'application/json']], body: '[{}, []]' });
    t.equal(h.lambda.invocations.at(-1)?.payload.toString(), '[{},[]]');
  });

  t.test('forward_request_* sends method, uri, headers and body as Kong does', async (t) => {
    const r = await h.send({
      path: '/forward?key1=from_querystring',
      authority: 'lambda9.test',
      headers: [
        ['content-type', 'application/xml'],
        ['custom-header', 'someheader'],
      ],
      body: '<xml/>',
    });
    t.equal(r.status, 200);
    const payload = h.lambda.invocations.at(-1)?.json() as Record<string, unknown>;
    t.equal(payload.request_method, 'POST');
    t.equal(payload.request_uri, '/forward?key1=from_querystring');
    t.same(payload.request_uri_args, { key1: 'from_querystring' });
    t.match(payload.request_headers, { host: 'lambda9.test', 'content-type': 'application/xml', 'custom-header': 'someheader' });
    t.equal(payload.request_body, '<xml/>');
    t.same(payload.request_body_args, {});
    t.notOk('request_body_base64' in payload);
  });

  t.test('forward_request_body base64-encodes an unknown content type', async (t) => {
    await h.send({ path: '/forward', headers: [['content-type', 'application/octet-stream']], body: '01234' });
    const payload = h.lambda.invocations.at(-1)?.json() as Record<string, unknown>;
    t.equal(payload.request_body, 'MDEyMzQ=');
    t.equal(payload.request_body_base64, true);
  });

  t.test('selects a route by the x-lambda-extproc-route metadata, whatever the path', async (t) => {
    const r = await h.send({ path: '/anything/else', metadata: { 'x-lambda-extproc-route': 'by-name' } });
    t.equal(r.status, 200);
    t.equal(h.lambda.invocations.at(-1)?.functionName, 'NamedFunction');
  });

  t.test('answers 500 naming an x-lambda-extproc-route that no route has', async (t) => {
    const before = h.lambda.invocations.length;
    const r = await h.send({ path: '/lambda1', metadata: { 'x-lambda-extproc-route': 'nope' } });
    t.equal(r.status, 500);
    t.match(r.json(), { message: /no route named "nope"/ });
    t.equal(h.lambda.invocations.length, before, 'nothing invoked');
  });

  t.test('lets an unmatched request through with CONTINUE and calls no function', async (t) => {
    const before = h.lambda.invocations.length;
    const r = await h.send({ path: '/not-lambda', body: 'x', headers: [['content-type', 'text/plain']] });
    t.equal(r.outcome, 'upstream');
    t.ok(r.received[0]?.request_headers, 'headers answered CONTINUE');
    t.ok(r.received[1]?.request_body, 'body answered CONTINUE');
    t.equal(h.lambda.invocations.length, before);
  });

  t.test('matches methods: a GET on a POST-only route passes through', async (t) => {
    const get = await h.send({ path: '/post-only' });
    t.equal(get.outcome, 'upstream');
    const post = await h.send({ path: '/post-only', body: 'a=1', headers: [['content-type', 'application/x-www-form-urlencoded']] });
    t.equal(post.status, 200);
  });

  t.test('Event invocations answer 202 and DryRun 204', async (t) => {
    const event = await h.send({ path: '/event' });
    t.equal(event.status, 202);
    t.equal(event.body.length, 0);
    t.ok(event.header('x-amzn-requestid'));
    t.equal(h.lambda.invocations.at(-1)?.invocationType, 'Event');
    const dry = await h.send({ path: '/dryrun' });
    t.equal(dry.status, 204);
    t.equal(h.lambda.invocations.at(-1)?.invocationType, 'DryRun');
  });

  t.test('an unhandled function error answers unhandled_status with the error body and header', async (t) => {
    const r = await h.send({ path: '/unhandled' });
    t.equal(r.status, 412);
    t.equal(r.header('x-amz-function-error'), 'Unhandled');
    t.match(r.json(), { errorMessage: 'boom' });
    const plain = await h.send({ path: '/unhandled-default' });
    t.equal(plain.status, 200, "without unhandled_status, Lambda's own status");
    t.equal(plain.header('x-amz-function-error'), 'Unhandled');
  });

  t.test('logs one JSON line per request with route, function, status and Lambda request id', async (t) => {
    const r = await h.send({ path: '/lambda1' });
    const line = h.logs.filter((l) => l.msg === 'request').at(-1);
    t.match(line, { route: 'lambda1', function: 'MyLambda', method: 'GET', path: '/lambda1', status: 200, lambda_request_id: r.header('x-amzn-requestid') });
    t.type(line?.latency_ms, 'number');
  });
});

t.test('answers 500 "no region or host specified" when no region can be found', async (t) => {
  const h = await startHarness({
    config: `
routes:
  - name: noregion
    match: { path: /x }
    function_name: F
    aws_key: {{key}}
    aws_secret: {{secret}}
`,
  });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/x' });
  t.equal(r.status, 500);
  t.same(r.json(), { message: 'no region or host specified' });
  t.equal(h.lambda.invocations.length, 0);
});

t.test('a wrong secret is rejected by Lambda (403) and answered 500 with the AWS code logged', async (t) => {
  const h = await startHarness({
    config: `
routes:
${fakeRoute('wrong', `match: { path: /x }
function_name: F`).replace('{{secret}}', 'not-the-right-secret')}
`,
  });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/x' });
  t.equal(r.status, 500);
  t.same(h.lambda.rejected.map((x) => x.code), ['InvalidSignatureException']);
  t.equal(h.lambda.invocations.length, 0);
  const line = h.logs.find((l) => l.msg === 'request failed');
  t.match(line, { cause: 'lambda_denied', aws_code: 'InvalidSignatureException', status: 500 });
  t.notMatch(h.rawLogs(), /not-the-right-secret/, 'the secret is never logged');
});

t.test('credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when the route has none', async (t) => {
  const saved = { ...process.env };
  process.env.AWS_ACCESS_KEY_ID = 'AKIDENVIRONMENT00001';
  process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
  t.teardown(() => {
    process.env = saved;
  });
  const h = await startHarness({
    config: `
routes:
  - name: env
    match: { path: /x }
    function_name: F
    aws_region: eu-west-1
    host: 127.0.0.1
    port: {{lambda}}
    disable_https: true
`,
    lambda: { secrets: { AKIDENVIRONMENT00001: 'env-secret' } },
  });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/x' });
  t.equal(r.status, 200);
  t.equal(h.lambda.invocations[0]?.accessKeyId, 'AKIDENVIRONMENT00001');
  t.equal(h.lambda.invocations[0]?.region, 'eu-west-1');
});

t.test('signs and sends a full function ARN and a qualifier as Lambda expects them', async (t) => {
  const arn = 'arn:aws:lambda:us-east-1:123456789012:function:MyFn';
  const h = await startHarness({
    config: `
routes:
${fakeRoute('arn', `match: { path: /arn }
function_name: ${arn}
qualifier: prod`)}
${fakeRoute('latest', `match: { path: /latest }
function_name: Plain
qualifier: $LATEST`)}
`,
  });
  t.teardown(() => h.close());
  const r = await h.send({ path: '/arn' });
  t.equal(r.status, 200, 'the signature over the encoded ARN path verified');
  t.equal(h.lambda.invocations.at(-1)?.functionName, arn);
  t.equal(h.lambda.invocations.at(-1)?.qualifier, 'prod');
  t.equal(r.header('x-amz-executed-version'), 'prod');
  const latest = await h.send({ path: '/latest' });
  t.equal(latest.status, 200, 'a qualifier that needs escaping signs too');
  t.equal(h.lambda.invocations.at(-1)?.qualifier, '$LATEST');
  t.same(h.lambda.rejected, [], 'no signature rejected');
});
