// Kong's 99-access_spec, 06-request-util_spec and 08-sam-integration_spec
// cases against the real server, the Envoy stand-in and the fake Lambda.
// The fake echoes the invocation payload, as Kong's mock does.
import t from 'tap';
import { startHarness, fakeRoute } from '../support/harness';

const FORM: Array<[string, string]> = [['content-type', 'application/x-www-form-urlencoded']];
const JSON_TYPE: Array<[string, string]> = [['content-type', 'application/json']];

const config = `
routes:
${fakeRoute('plain', `match: { path_prefix: /get }
function_name: kongLambdaTest`)}
${fakeRoute('post', `match: { path_prefix: /post }
function_name: kongLambdaTest`)}
${fakeRoute('forward-all', `match: { path_prefix: /forward-all }
function_name: kongLambdaTest
forward_request_method: true
forward_request_uri: true
forward_request_headers: true
forward_request_body: true`)}
${fakeRoute('forward-no-uri', `match: { path_prefix: /forward-no-uri }
function_name: kongLambdaTest
forward_request_method: true
forward_request_headers: true
forward_request_body: true`)}
${fakeRoute('event', `match: { path: /event }
function_name: kongLambdaTest
invocation_type: Event`)}
${fakeRoute('dryrun', `match: { path: /dryrun }
function_name: kongLambdaTest
invocation_type: DryRun`)}
${fakeRoute('slow', `match: { path: /slow }
function_name: functionWithLatency
timeout: 100`)}
${fakeRoute('unhandled', `match: { path: /unhandled }
function_name: functionWithUnhandledError`)}
${fakeRoute('unhandled-event', `match: { path: /unhandled-event }
function_name: functionWithUnhandledError
invocation_type: Event`)}
${fakeRoute('unhandled-dryrun', `match: { path: /unhandled-dryrun }
function_name: functionWithUnhandledError
invocation_type: DryRun`)}
${fakeRoute('unhandled-412', `match: { path: /unhandled-412 }
function_name: functionWithUnhandledError
unhandled_status: 412`)}
${fakeRoute('handled-422', `match: { path: /handled-422 }
function_name: functionWithHandledError
handled_status: 422
unhandled_status: 412`)}
${fakeRoute('empty-legacy', `match: { path: /empty-legacy }
function_name: functionWithEmptyArray
empty_arrays_mode: legacy`)}
${fakeRoute('empty-correct', `match: { path: /empty-correct }
function_name: functionWithEmptyArray
empty_arrays_mode: correct`)}
${fakeRoute('mvh-ctype', `match: { path: /mvh-ctype }
function_name: functionWithArrayCTypeInMVHAndEmptyArray
is_proxy_integration: true
empty_arrays_mode: legacy`)}
${fakeRoute('proxy', `match: { path: /proxy }
function_name: kongLambdaTest
is_proxy_integration: true`)}
${fakeRoute('proxy-fixed', `match: { path_prefix: /fixed/ }
function_name: fixed
forward_request_uri: true
is_proxy_integration: true`)}
${fakeRoute('proxy-event', `match: { path: /proxy-event }
function_name: kongLambdaTest
is_proxy_integration: true
invocation_type: Event`)}
${fakeRoute('proxy-v2', `match: { path_prefix: /v2 }
function_name: fixed
forward_request_uri: true
is_proxy_integration: true
awsgateway_compatible: true
awsgateway_compatible_payload_version: '2.0'`)}
${fakeRoute('gateway', `match: { path_template: '/site/{siteSlug}' }
function_name: kongLambdaTest
awsgateway_compatible: true`)}
${fakeRoute('skip-plain', `match: { path: /skip-plain }
function_name: kongLambdaTest
forward_request_body: true
max_body_size: 8192`)}
${fakeRoute('noskip-plain', `match: { path: /noskip-plain }
function_name: kongLambdaTest
forward_request_body: true
skip_large_bodies: false
max_body_size: 8192`)}
${fakeRoute('skip-gateway', `match: { path: /skip-gateway }
function_name: kongLambdaTest
awsgateway_compatible: true
max_body_size: 8192`)}
${fakeRoute('noskip-gateway', `match: { path: /noskip-gateway }
function_name: kongLambdaTest
awsgateway_compatible: true
skip_large_bodies: false
max_body_size: 8192`)}
${fakeRoute('raw-body', `match: { path: /raw-body }
function_name: kongLambdaTest
forward_request_body: true
base64_encode_body: false`)}
${fakeRoute('sam', `match: { path: /sam }
function_name: HelloWorldFunction
log_type: None`).replace('host: 127.0.0.1', 'host: localhost')}
${fakeRoute('sam-proxy', `match: { path: /proxy-sam }
function_name: HelloWorldFunction
is_proxy_integration: true`).replace('host: 127.0.0.1', 'host: localhost')}
${fakeRoute('tail', `match: { path: /tail }
function_name: kongLambdaTest
log_type: Tail`)}
${fakeRoute('preserve', `match: { path: /preserve }
function_name: throttled
preserve_lambda_api_error_code: true`)}
${fakeRoute('throttled', `match: { path: /throttled }
function_name: throttled`)}
  - name: custom-host-no-region
    match: { path: /custom-host }
    function_name: kongLambdaTest
    host: custom.lambda.endpoint
    aws_key: {{key}}
    aws_secret: {{secret}}
`;

const FIXED: Record<string, string> = {
  '/fixed/base64': '{"statusCode":200,"body":"dGVzdA==","isBase64Encoded":true}',
  '/fixed/illegal-base64': '{"statusCode":200,"body":"dGVzdA==","isBase64Encoded":"abc"}',
  '/fixed/not-base64': '{"statusCode":200,"body":"dGVzdA=","isBase64Encoded":false}',
  '/fixed/mvh': '{"statusCode":200,"headers":{"Age":"3600"},"multiValueHeaders":{"Access-Control-Allow-Origin":["site1.com","site2.com"]}}',
  '/fixed/bad-json': '{"statusCode":200,"bo',
  '/fixed/no-response': '',
  '/fixed/transfer-encoding': '{"statusCode":200,"headers":{"Transfer-Encoding":"chunked","transfer-encoding":"chunked"},"body":"ok"}',
  '/v2/no-status': '{"message":"hello","list":[]}',
  '/v2/cookies': '{"statusCode":201,"cookies":["a=1; Path=/","b=2"],"body":"made"}',
};

t.test("Kong's access cases", async (t) => {
  const h = await startHarness({
    config,
    lambda: {
      functions: {
        kongLambdaTest: () => ({}),
        functionWithLatency: () => ({ delayMs: 300 }),
        functionWithUnhandledError: () => ({ functionError: 'Unhandled', body: '{"errorMessage":"boom","errorType":"Error","stackTrace":[]}' }),
        functionWithHandledError: () => ({ functionError: 'Handled', body: '{"errorMessage":"handled"}' }),
        functionWithEmptyArray: () => ({ body: '{"statusCode":200,"testbody":[]}' }),
        functionWithArrayCTypeInMVHAndEmptyArray: () => ({ body: '{"statusCode":200,"testbody":[],"multiValueHeaders":{"Content-Type":["application/json+test"]}}' }),
        HelloWorldFunction: () => ({ body: '{"statusCode":201,"body":"{\\"message\\":\\"hello world\\"}"}' }),
        throttled: () => ({ apiError: { status: 429, type: 'TooManyRequestsException', message: 'Rate exceeded', headers: { 'Retry-After': '1' } } }),
        fixed: (call) => {
          const event = call.json() as { request_uri?: string; rawPath?: string };
          const path = event.request_uri ?? event.rawPath ?? '';
          return { body: FIXED[path] ?? '' };
        },
      },
    },
  });
  t.teardown(() => h.close());
  const last = () => h.lambda.invocations.at(-1)?.json() as Record<string, unknown>;

  t.test('echoes query arguments on a GET with Amazon headers and no function error (Kong #30, #61, #67)', async (t) => {
    const r = await h.send({ path: '/get?key1=some_value1&key2=some_value2&key3=some_value3' });
    t.equal(r.status, 200);
    t.strictSame(r.json(), { key1: 'some_value1', key2: 'some_value2', key3: 'some_value3' });
    t.ok(r.header('x-amzn-requestid'));
    t.equal(r.header('x-amz-function-error'), undefined);
  });

  t.test('answers without contacting the Envoy route upstream (Kong #31: the Service is ignored)', async (t) => {
    const r = await h.send({ path: '/get?key1=some_value1' });
    t.equal(r.outcome, 'immediate');
  });

  t.test('sends Content-Length of the echoed body (Kong #48: 65 bytes there with its mock newline)', async (t) => {
    const r = await h.send({ path: '/get?key1=some_value1&key2=some_value2&key3=some_value3' });
    t.equal(r.header('content-length'), '64');
    t.equal(r.body.length, 64);
  });

  t.test('merges a form body (Kong #32) and gives query arguments precedence only where the body lacks them (Kong #35)', async (t) => {
    const r = await h.send({ path: '/post', headers: FORM, body: 'key1=some_value_post1&key2=some_value_post2&key3=some_value_post3' });
    t.match(r.json(), { key1: 'some_value_post1' });
    const q = await h.send({ path: '/post?key1=from_querystring', headers: FORM, body: 'key2=some_value_post2&key3=some_value_post3' });
    t.strictSame(q.json(), { key1: 'from_querystring', key2: 'some_value_post2', key3: 'some_value_post3' });
  });

  t.test('passes a JSON body (Kong #33) and a lone JSON array (Kong #34)', async (t) => {
    const r = await h.send({ path: '/post', headers: JSON_TYPE, body: '{"key1":"some_value_json1","key2":"some_value_json2","key3":"some_value_json3"}' });
    t.match(r.json(), { key1: 'some_value_json1' });
    const a = await h.send({ path: '/post', headers: JSON_TYPE, body: '[{}, []]' });
    t.equal(a.body.toString(), '[{},[]]');
  });

  t.test('forwards method, uri, headers and an xml body (Kong #36)', async (t) => {
    const r = await h.send({ path: '/forward-all?key1=from_querystring', authority: 'lambda9.test', headers: [['content-type', 'application/xml'], ['custom-header', 'someheader']], body: '<xml/>' });
    const body = r.json() as Record<string, unknown>;
    t.equal(body.request_method, 'POST');
    t.equal(body.request_uri, '/forward-all?key1=from_querystring');
    t.strictSame(body.request_uri_args, { key1: 'from_querystring' });
    t.match(body.request_headers, { host: 'lambda9.test', 'custom-header': 'someheader' });
    t.equal(body.request_body, '<xml/>');
    t.strictSame(body.request_body_args, {});
  });

  t.test('forwards without uri: no request_uri keys, JSON body args (Kong #37)', async (t) => {
    const body = (await h.send({ path: '/forward-no-uri', headers: JSON_TYPE, body: '{"key2":"some_value"}' })).json() as Record<string, unknown>;
    t.equal(body.request_method, 'POST');
    t.notOk('request_uri' in body);
    t.notOk('request_uri_args' in body);
    t.ok(body.request_headers);
    t.strictSame(body.request_body_args, { key2: 'some_value' });
  });

  t.test('forwards text/plain as text (Kong #38) and octet-stream as base64 (Kong #39)', async (t) => {
    const text = (await h.send({ path: '/forward-all', headers: [['content-type', 'text/plain']], body: 'some text' })).json() as Record<string, unknown>;
    t.equal(text.request_body, 'some text');
    t.notOk('request_body_base64' in text);
    t.strictSame(text.request_body_args, {});
    const bin = (await h.send({ path: '/forward-all', headers: [['content-type', 'application/octet-stream']], body: '01234' })).json() as Record<string, unknown>;
    t.equal(bin.request_body, 'MDEyMzQ=');
    t.equal(bin.request_body_base64, true);
  });

  t.test('base64-encodes a body without Content-Type (Kong #25) unless base64_encode_body is false (Kong #26)', async (t) => {
    await h.send({ path: '/skip-plain', body: 'encodemeplease' });
    t.equal(last().request_body, Buffer.from('encodemeplease').toString('base64'));
    await h.send({ path: '/raw-body', body: 'donotencodemeplease' });
    t.equal(last().request_body, 'donotencodemeplease');
  });

  t.test('Event answers 202 (Kong #40) and DryRun 204 (Kong #41) with the request id', async (t) => {
    const e = await h.send({ path: '/event', headers: FORM, body: 'key1=a' });
    t.equal(e.status, 202);
    t.ok(e.header('x-amzn-requestid'));
    const d = await h.send({ path: '/dryrun' });
    t.equal(d.status, 204);
    t.ok(d.header('x-amzn-requestid'));
  });

  t.test('answers 504 when Lambda outlives the route timeout (Kong #42 answers 500)', async (t) => {
    const r = await h.send({ path: '/slow' });
    t.equal(r.status, 504);
    t.strictSame(r.json(), { message: 'Gateway Timeout' });
  });

  t.test('passes X-Amz-Function-Error with the status per invocation type (Kong #43, #44, #45)', async (t) => {
    for (const [path, status] of [['/unhandled', 200], ['/unhandled-event', 202], ['/unhandled-dryrun', 204]] as const) {
      const r = await h.send({ path });
      t.equal(r.status, status, path);
      t.equal(r.header('x-amz-function-error'), 'Unhandled', path);
    }
    t.match((await h.send({ path: '/unhandled' })).json(), { errorMessage: 'boom', errorType: 'Error' }, "the body is the function's error");
  });

  t.test('answers 412 when the function reports an unhandled error and unhandled_status is 412 (Kong #46)', async (t) => {
    const r = await h.send({ path: '/unhandled-412' });
    t.equal(r.status, 412);
    t.equal(r.header('x-amz-function-error'), 'Unhandled');
  });

  t.test('answers handled_status for a handled function error (complaint #5, #3208)', async (t) => {
    const r = await h.send({ path: '/handled-422' });
    t.equal(r.status, 422);
    t.equal(r.header('x-amz-function-error'), 'Handled');
    t.strictSame(r.json(), { errorMessage: 'handled' });
  });

  t.test('adds no Via header: Envoy owns Via (Kong #47 expects "2 kong/<version>")', async (t) => {
    const r = await h.send({ path: '/get' });
    t.equal(r.header('via'), undefined);
  });

  t.test('empty_arrays_mode legacy gives {} and correct keeps [] (Kong #50, complaint #4)', async (t) => {
    t.match((await h.send({ path: '/empty-legacy' })).body.toString(), '"testbody":{}');
    t.match((await h.send({ path: '/empty-correct' })).body.toString(), '"testbody":[]');
  });

  t.test('a multiValueHeaders Content-Type array in legacy mode sets the type (Kong #51, #13381)', async (t) => {
    const r = await h.send({ path: '/mvh-ctype' });
    t.equal(r.status, 200);
    t.equal(r.header('content-type'), 'application/json+test');
  });

  t.test('proxy: statusCode only gives an empty body (Kong #52)', async (t) => {
    const r = await h.send({ path: '/proxy', headers: JSON_TYPE, body: '{"statusCode":201}' });
    t.equal(r.status, 201);
    t.equal(r.header('content-length'), '0');
    t.equal(r.header('x-custom-header'), undefined);
    t.equal(r.body.length, 0);
  });

  t.test('proxy: status, headers and the body string verbatim (Kong #53)', async (t) => {
    const inner = '{"key1":"some_value_post1","key2":"some_value_post2","key3":"some_value_post3"}';
    const r = await h.send({ path: '/proxy', headers: JSON_TYPE, body: JSON.stringify({ statusCode: 201, body: inner, headers: { 'X-Custom-Header': 'Hello world!' } }) });
    t.equal(r.status, 201);
    t.equal(r.header('content-length'), '79');
    t.equal(r.header('x-custom-header'), 'Hello world!');
    t.equal(r.body.toString(), inner);
  });

  t.test("proxy: a payload x-amzn-RequestId replaces Lambda's (Kong #54)", async (t) => {
    const r = await h.send({ path: '/proxy', headers: JSON_TYPE, body: '{"statusCode":201,"headers":{"x-amzn-RequestId":"bar"}}' });
    t.equal(r.header('x-amzn-requestid'), 'bar');
    t.equal(r.headerValues('x-amzn-requestid').length, 1);
  });

  for (const [name, body, reason] of [
    ['statusCode "hello" (Kong #55)', '{"statusCode":"hello"}', 'statusCode validation failed'],
    ['headers "hello" (Kong #56)', '{"headers":"hello"}', 'statusCode validation failed'],
    ['body 1234 (Kong #57)', '{"statusCode":201,"body":1234}', 'body must be a string'],
  ] as const) {
    t.test(`proxy: answers 502 Bad Gateway for ${name}`, async (t) => {
      const r = await h.send({ path: '/proxy', headers: JSON_TYPE, body });
      t.equal(r.status, 502);
      t.strictSame(r.json(), { message: 'Bad Gateway', error: `could not JSON decode Lambda function response: ${reason}` });
    });
  }

  t.test('proxy: multiValueHeaders null is ignored (Kong #58, #13533)', async (t) => {
    const r = await h.send({ path: '/proxy', headers: JSON_TYPE, body: '{"statusCode":201,"body":"test","multiValueHeaders":null}' });
    t.equal(r.status, 201);
    t.equal(r.body.toString(), 'test');
  });

  t.test('proxy: truncated JSON (Kong #59) and an empty output (Kong #60) are 502 Bad Gateway', async (t) => {
    const bad = await h.send({ path: '/fixed/bad-json' });
    t.equal(bad.status, 502);
    t.match(bad.json(), { message: 'Bad Gateway', error: /^could not JSON decode Lambda function response: / });
    const none = await h.send({ path: '/fixed/no-response' });
    t.equal(none.status, 502);
    t.strictSame(none.json(), { message: 'Bad Gateway', error: 'could not JSON decode Lambda function response: proxy response must be json format' });
  });

  t.test('proxy: base64 bodies are decoded (Kong #62), a non-boolean flag is 502 (Kong #63), false keeps the text (Kong #64)', async (t) => {
    t.equal((await h.send({ path: '/fixed/base64' })).body.toString(), 'test');
    const illegal = await h.send({ path: '/fixed/illegal-base64' });
    t.equal(illegal.status, 502);
    t.match(illegal.body.toString(), 'isBase64Encoded must be a boolean');
    const plain = await h.send({ path: '/fixed/not-base64' });
    t.equal(plain.status, 200);
    t.equal(plain.body.toString(), 'dGVzdA=');
  });

  t.test('proxy: multiValueHeaders arrive as repeated header lines (Kong #65)', async (t) => {
    const r = await h.send({ path: '/fixed/mvh' });
    t.equal(r.status, 200);
    t.equal(r.header('age'), '3600');
    t.strictSame(r.headerValues('access-control-allow-origin'), ['site1.com', 'site2.com']);
  });

  t.test('proxy: Transfer-Encoding from the output is dropped and the body intact (Kong #70)', async (t) => {
    const r = await h.send({ path: '/fixed/transfer-encoding' });
    t.equal(r.status, 200);
    t.equal(r.header('transfer-encoding'), undefined);
    t.equal(r.body.toString(), 'ok');
  });

  t.test('proxy: an Event invocation has no output and answers 502', async (t) => {
    const r = await h.send({ path: '/proxy-event' });
    t.equal(r.status, 502);
  });

  t.test('proxy 2.0: output without statusCode is a 200 JSON body, cookies become set-cookie lines', async (t) => {
    const r = await h.send({ path: '/v2/no-status' });
    t.equal(r.status, 200);
    t.equal(r.header('content-type'), 'application/json');
    t.equal(r.body.toString(), '{"message":"hello","list":[]}');
    const c = await h.send({ path: '/v2/cookies' });
    t.equal(c.status, 201);
    t.strictSame(c.headerValues('set-cookie'), ['a=1; Path=/', 'b=2']);
    t.equal(c.body.toString(), 'made');
  });

  t.test('API Gateway route answers with the request id (Kong #27) and sends the template resource (complaint #1, #14836)', async (t) => {
    const r = await h.send({ path: '/site/my-site?x=1', headers: [['x-forwarded-for', '198.51.100.7']] });
    t.equal(r.status, 200);
    t.ok(r.header('x-amzn-requestid'));
    const event = last();
    t.equal(event.resource, '/site/{siteSlug}');
    t.strictSame(event.pathParameters, { siteSlug: 'my-site' });
    t.match(event.requestContext, { requestId: 'envoy-request-id-0001' });
    // Kong's sourceIp is nginx's remote_addr; ours is Envoy's source.address attribute, never X-Forwarded-For.
    t.notOk('sourceIp' in (event.requestContext as { identity: object }).identity, 'a client-written X-Forwarded-For is no sourceIp');
    t.equal(event.body, '');
    t.equal(event.isBase64Encoded, true);
  });

  const big = 'x'.repeat(32 * 1024);
  const small = 'x'.repeat(1024);
  let skippedLines = 0;
  for (const [path, size, expectedBody, skipped, item] of [
    ['/skip-plain', big, '', true, '#17'],
    ['/skip-plain', small, small, false, '#18'],
    ['/noskip-plain', big, big, false, '#19'],
    ['/noskip-plain', small, small, false, '#20'],
    ['/skip-gateway', big, '', true, '#21'],
    ['/skip-gateway', small, small, false, '#22'],
    ['/noskip-gateway', big, big, false, '#23'],
    ['/noskip-gateway', small, small, false, '#24'],
  ] as const) {
    t.test(`skip_large_bodies with max_body_size 8192: ${path} with ${size.length} bytes ${skipped ? 'sends no body' : 'sends the body'} (Kong ${item})`, async (t) => {
      const r = await h.send({ path, body: size });
      t.equal(r.status, 200);
      const payload = last();
      const sent = path.includes('gateway') ? payload.body : payload.request_body;
      t.equal(sent, expectedBody === '' ? '' : Buffer.from(expectedBody).toString('base64'));
      const logged = h.logs.filter((l) => l.request_id === 'envoy-request-id-0001' && typeof l.msg === 'string' && l.msg.startsWith('request body too large'));
      const before = skippedLines;
      skippedLines = logged.length;
      t.equal(skippedLines - before, skipped ? 1 : 0, skipped ? 'the skipped body is logged at error level, as Kong logs it' : 'no skipped-body line');
    });
  }

  t.test("API Gateway events carry the client's protocol from Envoy's request.protocol attribute", async (t) => {
    await h.send({ path: '/noskip-gateway', body: 'x', protocol: 'HTTP/2' });
    t.equal((last().requestContext as { protocol: string }).protocol, 'HTTP/2');
    await h.send({ path: '/noskip-gateway', body: 'x' });
    t.equal((last().requestContext as { protocol: string }).protocol, 'HTTP/1.1', 'HTTP/1.1 when Envoy does not send it');
  });

  t.test('a local SAM-style endpoint over plain HTTP answers 200 (Kong #28) and 201 with proxy integration (Kong #29)', async (t) => {
    const r = await h.send({ path: '/sam' });
    t.equal(r.status, 200);
    const p = await h.send({ path: '/proxy-sam' });
    t.equal(p.status, 201);
    t.strictSame(p.json(), { message: 'hello world' });
  });

  t.test('log_type Tail forwards X-Amz-Log-Result; the default None sends none (complaint: Kong leaks logs by default)', async (t) => {
    const tail = await h.send({ path: '/tail' });
    t.match(tail.header('x-amz-log-result'), /^[A-Za-z0-9+/]+=*$/);
    t.equal(h.lambda.invocations.at(-1)?.logType, 'Tail');
    const none = await h.send({ path: '/get' });
    t.equal(none.header('x-amz-log-result'), undefined);
  });

  t.test('throttling answers 429 with Retry-After; Kong answers 500 (complaint #6)', async (t) => {
    const r = await h.send({ path: '/throttled' });
    t.equal(r.status, 429);
    t.equal(r.header('retry-after'), '1');
    t.equal((await h.send({ path: '/preserve' })).status, 429);
  });

  t.test('a custom host without any region answers 500 without invoking (Kong #66)', async (t) => {
    const before = h.lambda.invocations.length;
    const r = await h.send({ path: '/custom-host' });
    t.equal(r.status, 500);
    t.strictSame(r.json(), { message: 'no region or host specified' });
    t.equal(h.lambda.invocations.length, before);
  });
});
