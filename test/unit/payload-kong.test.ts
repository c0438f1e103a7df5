// Kong's legacy and forward_request_* payloads, exact JSON per case.
import t from 'tap';
import type { HttpRequest } from '../../src/http';
import { buildForwardPayload, buildLegacyPayload } from '../../src/payload/kong';

function request(path: string, headers: Array<readonly [string, string]> = [], body: string | Buffer | null = null, method = body === null ? 'GET' : 'POST'): HttpRequest {
  const q = path.indexOf('?');
  return {
    method,
    path,
    pathname: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? '' : path.slice(q + 1),
    authority: 'lambda9.test',
    scheme: 'http',
    headers,
    body: body === null ? null : Buffer.isBuffer(body) ? body : Buffer.from(body),
    receivedAt: 0,
    requestId: 'id',
  };
}

const FORM: Array<readonly [string, string]> = [['content-type', 'application/x-www-form-urlencoded']];
const JSON_TYPE: Array<readonly [string, string]> = [['content-type', 'application/json']];

const legacy: Array<{ name: string; req: HttpRequest; expected: string }> = [
  { name: 'a GET without arguments is {}', req: request('/get'), expected: '{}' },
  { name: 'query arguments: repeated keys are arrays, a valueless key is true, a= is ""', req: request('/get?key1=some_value1&m=1&m=2&flag&empty='), expected: '{"key1":"some_value1","m":["1","2"],"flag":true,"empty":""}' },
  { name: 'form body merged over the query, body wins (Kong #35)', req: request('/post?key1=from_querystring&key2=q', FORM, 'key2=some_value_post2&key3=some_value_post3'), expected: '{"key1":"from_querystring","key2":"some_value_post2","key3":"some_value_post3"}' },
  { name: 'JSON object body (Kong #33)', req: request('/post', JSON_TYPE, '{"key1":"some_value_json1","n":[]}'), expected: '{"key1":"some_value_json1","n":[]}' },
  { name: 'a JSON array body alone is the payload (Kong #34)', req: request('/post', JSON_TYPE, '[{}, []]'), expected: '[{},[]]' },
  { name: "an empty JSON array body alone is {} (Kong's merge copies it into a plain table)", req: request('/post', JSON_TYPE, '[]'), expected: '{}' },
  { name: 'a JSON array body with query arguments gets 1-based keys', req: request('/post?a=1', JSON_TYPE, '["x","y"]'), expected: '{"1":"x","2":"y","a":"1"}' },
  { name: 'a malformed JSON body adds nothing', req: request('/post?a=1', JSON_TYPE, '{"broken'), expected: '{"a":"1"}' },
  { name: 'a JSON scalar body adds nothing', req: request('/post?a=1', JSON_TYPE, '42'), expected: '{"a":"1"}' },
  { name: 'application/json with parameters and +json suffix types that start with it parse', req: request('/post', [['content-type', 'Application/JSON-patch+json; charset=utf-8']], '{"a":1}'), expected: '{"a":1}' },
  { name: 'an unknown content type adds nothing', req: request('/post?a=1', [['content-type', 'text/plain']], 'b=2'), expected: '{"a":"1"}' },
  { name: 'no content type adds nothing', req: request('/post?a=1', [], 'b=2'), expected: '{"a":"1"}' },
  {
    name: 'multipart/form-data fields, repeated names as arrays',
    req: request(
      '/post',
      [['content-type', 'multipart/form-data; boundary=XyZ']],
      '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--XyZ\r\nContent-Disposition: form-data; name="b"\r\n\r\ny\r\n--XyZ--\r\n',
    ),
    expected: '{"a":"1","b":["x","y"]}',
  },
  {
    name: 'argument names that are Object.prototype names are plain arguments (__proto__ kept as a field, toString not seen as present)',
    req: request('/get?__proto__=x&toString=1&toString=2&constructor&hasOwnProperty=h'),
    expected: '{"__proto__":"x","toString":["1","2"],"constructor":true,"hasOwnProperty":"h"}',
  },
  {
    name: 'multipart field names that are Object.prototype names are plain fields',
    req: request('/post', [['content-type', 'multipart/form-data; boundary=B']], '--B\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\np\r\n--B\r\nContent-Disposition: form-data; name="valueOf"\r\n\r\nv\r\n--B--\r\n'),
    expected: '{"__proto__":"p","valueOf":"v"}',
  },
  { name: 'percent escapes and + are decoded; a bad escape is kept', req: request('/get?k%20ey=a+b%21&bad=%zz'), expected: '{"k ey":"a b!","bad":"%zz"}' },
];

for (const c of legacy) {
  t.test(`legacy payload: ${c.name}`, async (t) => {
    t.equal(JSON.stringify(buildLegacyPayload(c.req)), c.expected);
  });
}

t.test('legacy payload keeps only the first 100 query arguments (lua_max_uri_args)', async (t) => {
  const query = Array.from({ length: 120 }, (_, i) => `k${i}=${i}`).join('&');
  const payload = buildLegacyPayload(request(`/get?${query}`)) as Record<string, string>;
  t.equal(Object.keys(payload).length, 100);
  t.equal(payload.k99, '99');
  t.notOk('k100' in payload);
});

t.test('legacy payload keeps only the first 100 form arguments (lua_max_post_args)', async (t) => {
  const body = Array.from({ length: 120 }, (_, i) => `k${i}=${i}`).join('&');
  t.equal(Object.keys(buildLegacyPayload(request('/post', FORM, body)) as object).length, 100);
});

const ALL = { forward_request_method: true, forward_request_uri: true, forward_request_headers: true, forward_request_body: true, base64_encode_body: true };
const BODY = { forward_request_method: false, forward_request_uri: false, forward_request_headers: false, forward_request_body: true, base64_encode_body: true };

const forward: Array<{ name: string; options: typeof ALL; req: HttpRequest; expected: string }> = [
  {
    name: 'all flags, application/xml sent as text (Kong #36)',
    options: ALL,
    req: request('/post?key1=from_querystring', [['content-type', 'application/xml'], ['custom-header', 'someheader']], '<xml/>'),
    expected: '{"request_method":"POST","request_headers":{"host":"lambda9.test","content-type":"application/xml","custom-header":"someheader"},"request_uri":"/post?key1=from_querystring","request_uri_args":{"key1":"from_querystring"},"request_body":"<xml/>","request_body_args":{}}',
  },
  {
    name: 'method, headers and body without uri, JSON body parsed into request_body_args (Kong #37)',
    options: { ...ALL, forward_request_uri: false },
    req: request('/post', JSON_TYPE, '{"key2":"some_value"}'),
    expected: '{"request_method":"POST","request_headers":{"host":"lambda9.test","content-type":"application/json"},"request_body":"{\\"key2\\":\\"some_value\\"}","request_body_args":{"key2":"some_value"}}',
  },
  { name: 'text/plain is sent as text without request_body_base64 (Kong #38)', options: BODY, req: request('/post', [['content-type', 'text/plain']], 'some text'), expected: '{"request_body":"some text","request_body_args":{}}' },
  { name: 'application/octet-stream is base64 with request_body_base64 (Kong #39)', options: BODY, req: request('/post', [['content-type', 'application/octet-stream']], '01234'), expected: '{"request_body":"MDEyMzQ=","request_body_base64":true,"request_body_args":{}}' },
  { name: 'a body without Content-Type is base64 (Kong #25)', options: BODY, req: request('/post', [], 'encodemeplease'), expected: '{"request_body":"ZW5jb2RlbWVwbGVhc2U=","request_body_base64":true,"request_body_args":{}}' },
  { name: 'base64_encode_body false sends it raw (Kong #26)', options: { ...BODY, base64_encode_body: false }, req: request('/post', [], 'donotencodemeplease'), expected: '{"request_body":"donotencodemeplease","request_body_args":{}}' },
  { name: "text/plain; charset=utf-8 is base64: Kong compares the raw header exactly", options: BODY, req: request('/post', [['content-type', 'text/plain; charset=utf-8']], 'hi'), expected: '{"request_body":"aGk=","request_body_base64":true,"request_body_args":{}}' },
  { name: 'a GET without body gives request_body "" with request_body_base64 true', options: BODY, req: request('/get'), expected: '{"request_body":"","request_body_base64":true,"request_body_args":{}}' },
  { name: 'a text type without body leaves request_body out', options: BODY, req: request('/get', [['content-type', 'text/plain']]), expected: '{"request_body_args":{}}' },
  { name: 'malformed JSON keeps the body and leaves request_body_args out', options: BODY, req: request('/post', JSON_TYPE, '{"broken'), expected: '{"request_body":"{\\"broken"}' },
  { name: 'a form body is parsed into request_body_args', options: BODY, req: request('/post', FORM, 'a=1&a=2&b'), expected: '{"request_body":"a=1&a=2&b","request_body_args":{"a":["1","2"],"b":true}}' },
  {
    name: 'repeated headers become arrays in request_headers',
    options: { ...ALL, forward_request_body: false, forward_request_uri: false, forward_request_method: false },
    req: request('/get', [['accept', 'a'], ['accept', 'b']]),
    expected: '{"request_headers":{"host":"lambda9.test","accept":["a","b"]}}',
  },
  {
    name: 'header names that are Object.prototype names are plain headers',
    options: { ...ALL, forward_request_body: false, forward_request_uri: false, forward_request_method: false },
    req: request('/get', [['__proto__', 'p'], ['tostring', 'a'], ['constructor', 'c'], ['constructor', 'd']]),
    expected: '{"request_headers":{"host":"lambda9.test","__proto__":"p","tostring":"a","constructor":["c","d"]}}',
  },
  { name: 'request_uri_args is {} without a query', options: { ...ALL, forward_request_body: false, forward_request_headers: false, forward_request_method: false }, req: request('/get'), expected: '{"request_uri":"/get","request_uri_args":{}}' },
];

for (const c of forward) {
  t.test(`forward payload: ${c.name}`, async (t) => {
    t.equal(JSON.stringify(buildForwardPayload(c.req, c.options)), c.expected);
  });
}

t.test('forward payload keeps at most 100 request headers', async (t) => {
  const headers = Array.from({ length: 120 }, (_, i) => [`h${i}`, 'v'] as const);
  const payload = buildForwardPayload(request('/get', headers), { ...ALL, forward_request_body: false }) as { request_headers: object };
  t.equal(Object.keys(payload.request_headers).length, 100);
});
