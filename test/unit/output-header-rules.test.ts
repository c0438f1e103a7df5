// One rule for every response header line (src/lambda/header-rules.ts), on
// every path that builds the client's headers: proxy-integration headers,
// multiValueHeaders and 2.0 cookies, and Lambda's own headers passed through
// in plain, proxy and 2.0 statusCode-less output. A line Envoy would refuse
// (and drop with every header after it), or that would split the response,
// is a 502 naming the field; non-ASCII text is fine (it leaves as UTF-8).
import t from 'tap';
import { LambdaExtprocError } from '../../src/errors';
import { toErrorResponse } from '../../src/error-response';
import type { HeaderList } from '../../src/http';
import { headerLineProblem } from '../../src/lambda/header-rules';
import { toClientResponse, type OutputOptions } from '../../src/lambda/output';

const BASE: OutputOptions = { is_proxy_integration: false, empty_arrays_mode: 'correct', awsgateway_compatible: false, awsgateway_compatible_payload_version: '1.0' };
const PROXY: OutputOptions = { ...BASE, is_proxy_integration: true };
const PROXY_V2: OutputOptions = { ...PROXY, awsgateway_compatible: true, awsgateway_compatible_payload_version: '2.0' };
const LAMBDA: HeaderList = [
  ['content-type', 'application/json'],
  ['x-amzn-requestid', 'r1'],
];

function answer(output: unknown, options: OutputOptions, lambdaHeaders: HeaderList = LAMBDA) {
  try {
    return toClientResponse({ status: 200, headers: lambdaHeaders, body: Buffer.from(JSON.stringify(output)) }, options);
  } catch (error) {
    if (error instanceof LambdaExtprocError) return { ...toErrorResponse(error), kind: error.kind, message: error.message };
    throw error;
  }
}

const reasonOf = (r: ReturnType<typeof answer>): string => (JSON.parse(r.body.toString()) as { error?: string }).error ?? '';
const values = (headers: HeaderList, name: string) => headers.filter(([key]) => key === name).map(([, value]) => value);

t.test('the rule: token names; values without control characters other than HTAB', async (t) => {
  t.equal(headerLineProblem('X-Good_Name.1~', 'text\twith tab, "quotes" and ~'), undefined);
  t.equal(headerLineProblem('x-utf8', 'café ☃ 😀'), undefined, 'non-ASCII values are allowed (UTF-8 bytes are obs-text to Envoy)');
  t.equal(headerLineProblem('x-empty', ''), undefined);
  for (const name of ['', 'x y', 'x:y', 'x\r\ny', 'caf\u00e9', 'x"y', 'x(y)', 'x/y']) t.equal(headerLineProblem(name, 'v'), 'invalid name', JSON.stringify(name));
  for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb']) t.equal(headerLineProblem('x', value), 'line break', JSON.stringify(value));
  for (const value of ['a\u0000b', 'a\u0001b', 'a\u001fb', 'a\u007fb', 'a\u000bb', 'a\u000cb']) t.equal(headerLineProblem('x', value), 'control character', JSON.stringify(value));
  t.equal(headerLineProblem('x', 'a\u0000\nb'), 'line break', 'a line break is named first');
});

t.test('2.0 cookies get the same check as headers: an injected line is a 502 naming the cookie', async (t) => {
  const r = answer({ statusCode: 200, cookies: ['ok=1', 'a=b\r\nX-Injected: 1'] }, PROXY_V2);
  t.equal(r.status, 502);
  t.equal(reasonOf(r), 'could not JSON decode Lambda function response: cookies[1] holds a line break');
  const ctl = answer({ statusCode: 200, cookies: ['a=\u0001'] }, PROXY_V2);
  t.equal(ctl.status, 502);
  t.equal(reasonOf(ctl), 'could not JSON decode Lambda function response: cookies[0] holds a control character');
  const fine = answer({ statusCode: 200, cookies: ['name=José; Path=/'] }, PROXY_V2);
  t.equal(fine.status, 200);
  t.strictSame(values(fine.headers, 'set-cookie'), ['name=José; Path=/']);
});

t.test('headers and multiValueHeaders: line breaks, other control characters and bad names are 502s', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['headers CRLF', { headers: { 'set-cookie': 'a=b\r\nX-Injected: 1' } }, 'headers.set-cookie holds a line break'],
    ['headers NUL', { headers: { 'x-a': 'a\u0000b' } }, 'headers.x-a holds a control character'],
    ['headers DEL', { headers: { 'x-a': 'a\u007f' } }, 'headers.x-a holds a control character'],
    ['headers vertical tab', { headers: { 'x-a': 'a\u000bb' } }, 'headers.x-a holds a control character'],
    ['headers bad name', { headers: { 'x a': '1' } }, 'headers has an invalid header name "x a"'],
    ['headers non-ASCII name', { headers: { 'x-caf\u00e9': '1' } }, 'headers has an invalid header name "x-caf\u00e9"'],
    ['multiValueHeaders LF in the second value', { multiValueHeaders: { 'x-m': ['ok', 'a\nb'] } }, 'multiValueHeaders.x-m holds a line break'],
    ['multiValueHeaders control character', { multiValueHeaders: { 'x-m': ['\u001b[31m'] } }, 'multiValueHeaders.x-m holds a control character'],
    ['multiValueHeaders bad name', { multiValueHeaders: { 'x:m': ['1'] } }, 'multiValueHeaders has an invalid header name "x:m"'],
  ];
  for (const [name, fields, reason] of cases) {
    for (const options of [PROXY, PROXY_V2]) {
      const r = answer({ statusCode: 200, ...(fields as object) }, options);
      t.equal(r.status, 502, `${name} (${options.awsgateway_compatible ? '2.0' : '1.0'})`);
      t.equal(reasonOf(r), `could not JSON decode Lambda function response: ${reason}`, name);
    }
  }
});

t.test('HTAB and non-ASCII values pass in headers and multiValueHeaders', async (t) => {
  const r = answer({ statusCode: 200, headers: { 'x-a': 'a\tb', 'x-name': 'José' }, multiValueHeaders: { 'x-m': ['café', '☃'] } }, PROXY);
  t.equal(r.status, 200);
  t.strictSame(values(r.headers, 'x-a'), ['a\tb']);
  t.strictSame(values(r.headers, 'x-name'), ['José']);
  t.strictSame(values(r.headers, 'x-m'), ['café', '☃']);
});

t.test("Lambda's own headers are held to the same rule in plain, proxy and 2.0 statusCode-less output", async (t) => {
  const bad: HeaderList = [...LAMBDA, ['x-amz-log-result', 'a\r\nX-Injected: 1']];
  for (const [mode, options, output] of [
    ['plain', BASE, { any: 'thing' }],
    ['proxy', PROXY, { statusCode: 200 }],
    ['2.0 without statusCode', PROXY_V2, { message: 'hi' }],
  ] as const) {
    const r = answer(output, options, bad);
    t.equal(r.status, 502, mode);
    t.same(JSON.parse(r.body.toString()), { message: 'Bad Gateway' }, `${mode}: no detail from Lambda's headers reaches the client`);
    t.match(r, { kind: 'bad_function_output', message: 'Lambda response header "x-amz-log-result" holds a line break' }, mode);
  }
  const ctl = answer({ any: 'thing' }, BASE, [...LAMBDA, ['x-amz-executed-version', '1\u0000']]);
  t.match(ctl, { status: 502, kind: 'bad_function_output', message: 'Lambda response header "x-amz-executed-version" holds a control character' });
  const name = answer({ any: 'thing' }, BASE, [...LAMBDA, ['x bad', '1']]);
  t.match(name, { status: 502, kind: 'bad_function_output', message: 'Lambda response header "x bad" has an invalid header name' });
  const fine = answer({ any: 'thing' }, BASE, [...LAMBDA, ['x-amz-function-error', 'Unhandled'], ['x-tab', 'a\tb']]);
  t.equal(fine.status, 200, 'ordinary Lambda headers pass');
});
