// Lambda's answer → the client's response: status per invocation type and
// function error, Kong's proxy-integration validation order and reasons,
// header merging, base64 bodies, 2.0 output and empty_arrays_mode.
import t from 'tap';
import { LambdaExtprocError } from '../../src/errors';
import { toErrorResponse } from '../../src/error-response';
import type { HeaderList } from '../../src/http';
import { toClientResponse, type OutputOptions } from '../../src/lambda/output';

const LAMBDA_HEADERS: HeaderList = [
  ['date', 'Mon, 01 Jan 2024 00:00:00 GMT'],
  ['content-type', 'application/json'],
  ['content-length', '99'],
  ['connection', 'keep-alive'],
  ['x-amzn-requestid', 'foo'],
  ['x-amzn-trace-id', 'Root=1-abc'],
  ['x-amzn-remapped-content-length', '0'],
  ['x-amz-executed-version', '$LATEST'],
];

const BASE: OutputOptions = { is_proxy_integration: false, empty_arrays_mode: 'correct', awsgateway_compatible: false, awsgateway_compatible_payload_version: '1.0' };
const PROXY: OutputOptions = { ...BASE, is_proxy_integration: true };
const PROXY_V2: OutputOptions = { ...PROXY, awsgateway_compatible: true, awsgateway_compatible_payload_version: '2.0' };

function run(body: string, options: OutputOptions, status = 200, extra: HeaderList = []) {
  return toClientResponse({ status, headers: [...LAMBDA_HEADERS, ...extra], body: Buffer.from(body) }, options);
}

/** What the client gets, errors rendered as the error response. */
function answer(body: string, options: OutputOptions, status = 200, extra: HeaderList = []) {
  try {
    return run(body, options, status, extra);
  } catch (error) {
    if (error instanceof LambdaExtprocError) return toErrorResponse(error);
    throw error;
  }
}

function values(headers: HeaderList, name: string): string[] {
  return headers.filter(([key]) => key === name).map(([, value]) => value);
}

t.test('non-proxy: passes the body through byte for byte with Amazon headers, minus hop-by-hop, length and date', async (t) => {
  const r = run('{"b": "a/b", "n": 12345678901234567890, "e": []}', BASE);
  t.equal(r.status, 200);
  t.equal(r.body.toString(), '{"b": "a/b", "n": 12345678901234567890, "e": []}');
  t.strictSame(r.headers.map(([name]) => name), ['content-type', 'x-amzn-requestid', 'x-amzn-trace-id', 'x-amzn-remapped-content-length', 'x-amz-executed-version']);
});

t.test('non-proxy: a top-level JSON string is returned as Lambda sent it (Kong unquotes it)', async (t) => {
  t.equal(run('"hello"', BASE).body.toString(), '"hello"');
});

const statusCases: Array<{ name: string; lambdaStatus: number; error?: string; options?: Partial<OutputOptions>; expected: number }> = [
  { name: 'Event answers 202', lambdaStatus: 202, expected: 202 },
  { name: 'DryRun answers 204', lambdaStatus: 204, expected: 204 },
  { name: 'an unhandled error without unhandled_status keeps 200 (Kong #43)', lambdaStatus: 200, error: 'Unhandled', expected: 200 },
  { name: 'an unhandled error on an Event keeps 202 (Kong #44)', lambdaStatus: 202, error: 'Unhandled', expected: 202 },
  { name: 'an unhandled error on a DryRun keeps 204 (Kong #45)', lambdaStatus: 204, error: 'Unhandled', expected: 204 },
  { name: 'answers 412 when the function reports an unhandled error and unhandled_status is 412 (Kong #46)', lambdaStatus: 200, error: 'Unhandled', options: { unhandled_status: 412 }, expected: 412 },
  { name: 'unhandled_status applies to Event invocations too', lambdaStatus: 202, error: 'Unhandled', options: { unhandled_status: 412 }, expected: 412 },
  { name: 'unhandled_status does not apply to a handled error', lambdaStatus: 200, error: 'Handled', options: { unhandled_status: 412 }, expected: 200 },
  { name: 'handled_status applies to X-Amz-Function-Error: Handled (Kong #3208, not in Kong)', lambdaStatus: 200, error: 'Handled', options: { handled_status: 422 }, expected: 422 },
  { name: 'handled_status does not apply to an unhandled error', lambdaStatus: 200, error: 'Unhandled', options: { handled_status: 422 }, expected: 200 },
  { name: 'the function-error value is compared exactly', lambdaStatus: 200, error: 'unhandled', options: { unhandled_status: 412 }, expected: 200 },
  { name: 'an unhandled_status above 599 answers 500 as Kong does', lambdaStatus: 200, error: 'Unhandled', options: { unhandled_status: 600 }, expected: 500 },
];

for (const c of statusCases) {
  t.test(`status: ${c.name}`, async (t) => {
    const extra: HeaderList = c.error === undefined ? [] : [['x-amz-function-error', c.error]];
    const r = answer('{"errorMessage":"boom"}', { ...BASE, ...c.options }, c.lambdaStatus, extra);
    t.equal(r.status, c.expected);
    if (c.expected < 500 && c.error !== undefined) {
      t.equal(values(r.headers, 'x-amz-function-error')[0], c.error, 'the function-error header is passed on');
      t.equal(r.body.toString(), '{"errorMessage":"boom"}', "the body is the function's error payload");
    }
  });
}

t.test('proxy: unhandled_status is never consulted (the status comes from the output)', async (t) => {
  const r = answer('{"errorMessage":"boom"}', { ...PROXY, unhandled_status: 412 }, 200, [['x-amz-function-error', 'Unhandled']]);
  t.equal(r.status, 502);
  t.strictSame(JSON.parse(r.body.toString()), { message: 'Bad Gateway', error: 'could not JSON decode Lambda function response: statusCode validation failed' });
});

const proxyCases: Array<{ name: string; body: string; options?: OutputOptions; status: number; payload?: string; error?: string; headers?: Record<string, string[]> }> = [
  { name: 'statusCode only: empty body (Kong #52)', body: '{"statusCode":201}', status: 201, payload: '' },
  {
    name: 'body verbatim and headers set (Kong #53)',
    body: JSON.stringify({ statusCode: 201, body: '{"key1":"some_value_post1","key2":"some_value_post2","key3":"some_value_post3"}', headers: { 'X-Custom-Header': 'Hello world!' } }),
    status: 201,
    payload: '{"key1":"some_value_post1","key2":"some_value_post2","key3":"some_value_post3"}',
    headers: { 'x-custom-header': ['Hello world!'] },
  },
  { name: "a payload header overrides Lambda's of the same name (Kong #54)", body: '{"statusCode":200,"headers":{"x-amzn-RequestId":"bar"}}', status: 200, headers: { 'x-amzn-requestid': ['bar'] } },
  { name: 'statusCode "hello" is a 502 (Kong #55)', body: '{"statusCode":"hello"}', status: 502, error: 'statusCode validation failed' },
  { name: 'headers "hello" without statusCode fails on statusCode first (Kong #56)', body: '{"headers":"hello"}', status: 502, error: 'statusCode validation failed' },
  { name: 'headers "hello" with a statusCode', body: '{"statusCode":200,"headers":"hello"}', status: 502, error: 'headers must be a table' },
  { name: 'headers null', body: '{"statusCode":200,"headers":null}', status: 502, error: 'headers must be a table' },
  { name: 'body 1234 (Kong #57)', body: '{"statusCode":201,"body":1234}', status: 502, error: 'body must be a string' },
  { name: 'body null', body: '{"statusCode":201,"body":null}', status: 502, error: 'body must be a string' },
  { name: 'multiValueHeaders null is ignored (Kong #58)', body: '{"statusCode":201,"body":"test","multiValueHeaders":null}', status: 201, payload: 'test' },
  { name: 'truncated JSON (Kong #59)', body: '{"statusCode":201,"bo', status: 502 },
  { name: 'an empty output (Kong #60)', body: '', status: 502, error: 'proxy response must be json format' },
  { name: 'a base64 body is decoded (Kong #62)', body: '{"statusCode":200,"body":"dGVzdA==","isBase64Encoded":true}', status: 200, payload: 'test' },
  { name: 'isBase64Encoded "abc" (Kong #63)', body: '{"statusCode":200,"body":"dGVzdA==","isBase64Encoded":"abc"}', status: 502, error: 'isBase64Encoded must be a boolean' },
  { name: 'isBase64Encoded null', body: '{"statusCode":200,"isBase64Encoded":null}', status: 502, error: 'isBase64Encoded must be a boolean' },
  { name: 'isBase64Encoded false keeps the text (Kong #64)', body: '{"statusCode":200,"body":"dGVzdA=","isBase64Encoded":false}', status: 200, payload: 'dGVzdA=' },
  {
    name: 'multiValueHeaders become repeated lines (Kong #65)',
    body: '{"statusCode":200,"headers":{"Age":"3600"},"multiValueHeaders":{"Access-Control-Allow-Origin":["site1.com","site2.com"]}}',
    status: 200,
    payload: '',
    headers: { age: ['3600'], 'access-control-allow-origin': ['site1.com', 'site2.com'] },
  },
  { name: 'multiValueHeaders replace a same-named single header', body: '{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":{"x-a":["2","3"]}}', status: 200, headers: { 'x-a': ['2', '3'] } },
  { name: 'an empty multiValueHeaders array removes the header', body: '{"statusCode":200,"multiValueHeaders":{"x-amzn-trace-id":[]}}', status: 200, headers: { 'x-amzn-trace-id': [] } },
  { name: 'Transfer-Encoding and Content-Length from the output are dropped (Kong #70)', body: '{"statusCode":200,"body":"ok","headers":{"Transfer-Encoding":"chunked","content-length":"999"}}', status: 200, payload: 'ok', headers: { 'transfer-encoding': [], 'content-length': [] } },
  { name: 'statusCode "201" as a string is accepted', body: '{"statusCode":"201"}', status: 201 },
  { name: 'statusCode 600 is a 502', body: '{"statusCode":600}', status: 502, error: 'statusCode validation failed' },
  { name: 'statusCode 99 is a 502', body: '{"statusCode":99}', status: 502, error: 'statusCode validation failed' },
  { name: 'statusCode null is a 502 (Kong: 500 from a Lua error)', body: '{"statusCode":null}', status: 502, error: 'statusCode validation failed' },
  { name: 'number and boolean header values are stringified', body: '{"statusCode":200,"headers":{"x-n":5,"x-b":true}}', status: 200, headers: { 'x-n': ['5'], 'x-b': ['true'] } },
  { name: 'a null header value is a 502 (Kong: 500)', body: '{"statusCode":200,"headers":{"x-n":null}}', status: 502, error: 'headers.x-n must be a string, number, boolean or an array of them' },
  { name: 'a header value with a line break is a 502', body: '{"statusCode":200,"headers":{"x-n":"a\\r\\nb"}}', status: 502, error: 'headers.x-n holds a line break' },
  { name: 'invalid base64 is a 502 (Kong: 500)', body: '{"statusCode":200,"body":"%%%","isBase64Encoded":true}', status: 502, error: 'body is not valid base64' },
  { name: 'a JSON string holding JSON is decoded twice, as Kong does', body: JSON.stringify(JSON.stringify({ statusCode: 203, body: 'x' })), status: 203, payload: 'x' },
  { name: 'a function error payload has no statusCode', body: '{"errorMessage":"boom","errorType":"Error"}', status: 502, error: 'statusCode validation failed' },
  { name: 'format 1.0 ignores cookies', body: '{"statusCode":200,"cookies":["a=1"]}', status: 200, headers: { 'set-cookie': [] } },
  { name: '2.0: cookies become set-cookie lines', body: '{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"headers":{"Set-Cookie":"c=3"}}', options: PROXY_V2, status: 200, headers: { 'set-cookie': ['c=3', 'a=1; Path=/', 'b=2'] } },
  { name: '2.0: an object without statusCode is the JSON body of a 200', body: '{"message":"hi"}', options: PROXY_V2, status: 200, payload: '{"message":"hi"}', headers: { 'content-type': ['application/json'] } },
  { name: '2.0: a JSON string without statusCode is the body of a 200', body: '"hi"', options: PROXY_V2, status: 200, payload: '"hi"' },
  { name: '2.0: cookies that are not strings are a 502', body: '{"statusCode":200,"cookies":[1]}', options: PROXY_V2, status: 502, error: 'cookies must be an array of strings' },
  { name: '2.0: an empty output is still a 502', body: '', options: PROXY_V2, status: 502, error: 'proxy response must be json format' },
];

for (const c of proxyCases) {
  t.test(`proxy: ${c.name}`, async (t) => {
    const r = answer(c.body, c.options ?? PROXY);
    t.equal(r.status, c.status);
    if (c.status === 502) {
      const json = JSON.parse(r.body.toString()) as { message: string; error: string };
      t.equal(json.message, 'Bad Gateway');
      t.match(json.error, /^could not JSON decode Lambda function response: /);
      if (c.error !== undefined) t.equal(json.error, `could not JSON decode Lambda function response: ${c.error}`);
    }
    if (c.payload !== undefined) t.equal(r.body.toString(), c.payload);
    for (const [name, expected] of Object.entries(c.headers ?? {})) t.strictSame(values(r.headers, name), expected, name);
    if (c.status !== 502) t.strictSame(values(r.headers, 'connection'), [], 'no hop-by-hop header');
  });
}

t.test('empty_arrays_mode legacy turns empty arrays into {} in JSON output (Kong #50)', async (t) => {
  const body = '{"statusCode":200,"testbody":[],"nested":[[]],"list":[1]}';
  t.equal(run(body, { ...BASE, empty_arrays_mode: 'legacy' }).body.toString(), '{"statusCode":200,"testbody":{},"nested":[{}],"list":[1]}');
  t.equal(run(body, BASE).body.toString(), body, 'correct keeps the bytes');
});

t.test('empty_arrays_mode legacy leaves non-JSON content types alone', async (t) => {
  const r = toClientResponse({ status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from('[]') }, { ...BASE, empty_arrays_mode: 'legacy' });
  t.equal(r.body.toString(), '[]');
});

t.test('empty_arrays_mode legacy in proxy mode with a multiValueHeaders Content-Type array keeps the type (Kong #51, #13381)', async (t) => {
  const body = JSON.stringify({ statusCode: 200, body: '{"testbody":[]}', multiValueHeaders: { 'Content-Type': ['application/json+test'] } });
  const r = run(body, { ...PROXY, empty_arrays_mode: 'legacy' });
  t.equal(r.status, 200);
  t.strictSame(values(r.headers, 'content-type'), ['application/json+test']);
  t.equal(r.body.toString(), '{"testbody":[]}', 'the proxy body is a string: nothing rewritten');
});
