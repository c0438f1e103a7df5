// API Gateway events, exact JSON per case (Kong's 05-aws-serializer_spec
// cases 12-16, plus payload format 2.0 and path_template).
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import type { HttpRequest } from '../../src/http';
import { buildPayload } from '../../src/payload/build';
import type { GatewayRequest } from '../../src/payload/gateway-context';
import { toClfTime } from '../../src/payload/gateway-context';
import { compileRoutes } from '../../src/routing';

function route(yaml: string) {
  const loaded = parseConfig(`routes:\n  - name: r\n    function_name: F\n    aws_region: us-east-1\n${yaml.replace(/^/gm, '    ')}\n`, {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const table = compileRoutes(loaded.config.routes);
  return table.routes[0]!;
}

function request(overrides: Partial<GatewayRequest> & { path: string }): GatewayRequest {
  const q = overrides.path.indexOf('?');
  return {
    method: 'GET',
    pathname: q === -1 ? overrides.path : overrides.path.slice(0, q),
    query: q === -1 ? '' : overrides.path.slice(q + 1),
    authority: 'abc.myhost.test',
    scheme: 'https',
    headers: [],
    body: null,
    receivedAt: 1662436514000,
    requestId: '1234567890',
    ...overrides,
  };
}

function eventOf(yaml: string, req: HttpRequest): unknown {
  const r = route(yaml);
  const match = r.match(req.pathname, req.method);
  if (match === undefined) throw new Error(`no match for ${req.pathname}`);
  return JSON.parse(buildPayload(req, r.config, match).bytes.toString('utf8'));
}

const KONG_HEADERS: Array<readonly [string, string]> = [
  ['multi-header', 'first'],
  ['multi-header', 'second'],
  ['single-header', 'hello world'],
  ['user-agent', 'curl/7.54.0'],
  ['x-forwarded-for', '203.0.113.66, 10.0.0.1'],
];

const cases: Array<{ name: string; yaml: string; req: GatewayRequest; expected: unknown }> = [
  {
    name: "builds Kong's exact 1.0 event for a regex route with named captures (Kong #12; host header added, Envoy always has one; the regex spans the whole path)",
    yaml: `awsgateway_compatible: true\nmatch: { path_regex: '/(?<version>\\d+)/strip.*' }`,
    req: request({ path: '/123/strip/more?boolean&multi-query=first&single-query=hello%20world&multi-query=second', headers: KONG_HEADERS, body: Buffer.from('text'), sourceAddress: '123.123.123.123:51234' }),
    expected: {
      version: '1.0',
      resource: '/(?<version>\\d+)/strip.*',
      path: '/123/strip/more',
      httpMethod: 'GET',
      headers: { host: 'abc.myhost.test', 'multi-header': 'first', 'single-header': 'hello world', 'user-agent': 'curl/7.54.0', 'x-forwarded-for': '203.0.113.66, 10.0.0.1' },
      multiValueHeaders: {
        host: ['abc.myhost.test'],
        'multi-header': ['first', 'second'],
        'single-header': ['hello world'],
        'user-agent': ['curl/7.54.0'],
        'x-forwarded-for': ['203.0.113.66, 10.0.0.1'],
      },
      pathParameters: { version: '123' },
      queryStringParameters: { boolean: true, 'multi-query': 'first', 'single-query': 'hello world' },
      multiValueQueryStringParameters: { boolean: [true], 'multi-query': ['first', 'second'], 'single-query': ['hello world'] },
      body: 'dGV4dA==',
      isBase64Encoded: true,
      requestContext: {
        path: '/123/strip/more',
        protocol: 'HTTP/1.1',
        httpMethod: 'GET',
        domainName: 'abc.myhost.test',
        domainPrefix: 'abc',
        identity: { sourceIp: '123.123.123.123', userAgent: 'curl/7.54.0' },
        requestId: '1234567890',
        requestTime: '06/Sep/2022:03:55:14 +0000',
        requestTimeEpoch: 1662436514000,
        resourcePath: '/123/strip/more',
      },
    },
  },
  {
    name: 'gives a prefix route empty pathParameters, the request protocol and the domain prefix (Kong #13)',
    yaml: `awsgateway_compatible: true\nmatch: { path_prefix: /plain/strip }`,
    req: request({ path: '/plain/strip/more', authority: 'def.myhost.test:8000', protocol: 'HTTP/1.0', headers: [['x-envoy-external-address', '10.1.2.3']], sourceAddress: '[2001:db8::7]:5000' }),
    expected: {
      version: '1.0',
      resource: '/plain/strip',
      path: '/plain/strip/more',
      httpMethod: 'GET',
      headers: { host: 'def.myhost.test:8000', 'x-envoy-external-address': '10.1.2.3' },
      multiValueHeaders: { host: ['def.myhost.test:8000'], 'x-envoy-external-address': ['10.1.2.3'] },
      pathParameters: {},
      queryStringParameters: {},
      multiValueQueryStringParameters: {},
      body: '',
      isBase64Encoded: true,
      requestContext: {
        path: '/plain/strip/more',
        protocol: 'HTTP/1.0',
        httpMethod: 'GET',
        domainName: 'def.myhost.test',
        domainPrefix: 'def',
        identity: { sourceIp: '2001:db8::7' },
        requestId: '1234567890',
        requestTime: '06/Sep/2022:03:55:14 +0000',
        requestTimeEpoch: 1662436514000,
        resourcePath: '/plain/strip/more',
      },
    },
  },
  {
    name: 'uses path_template for resource and pathParameters, and sends the raw body without base64_encode_body',
    yaml: `awsgateway_compatible: true\nbase64_encode_body: false\nmatch: { path_template: '/site/{siteSlug}/{proxy+}' }`,
    req: request({ method: 'POST', path: '/site/my%20site/a/b', authority: 'api', headers: [['content-type', 'application/json']], body: Buffer.from('{"a":1}') }),
    expected: {
      version: '1.0',
      resource: '/site/{siteSlug}/{proxy+}',
      path: '/site/my%20site/a/b',
      httpMethod: 'POST',
      headers: { host: 'api', 'content-type': 'application/json' },
      multiValueHeaders: { host: ['api'], 'content-type': ['application/json'] },
      pathParameters: { siteSlug: 'my site', proxy: 'a/b' },
      queryStringParameters: {},
      multiValueQueryStringParameters: {},
      body: '{"a":1}',
      isBase64Encoded: false,
      requestContext: {
        path: '/site/my%20site/a/b',
        protocol: 'HTTP/1.1',
        httpMethod: 'POST',
        domainName: 'api',
        domainPrefix: 'api',
        identity: {},
        requestId: '1234567890',
        requestTime: '06/Sep/2022:03:55:14 +0000',
        requestTimeEpoch: 1662436514000,
        resourcePath: '/site/my%20site/a/b',
      },
    },
  },
  {
    name: 'builds an HTTP API 2.0 event: raw path and query, cookies apart, repeated values joined, routeKey from the template',
    yaml: `awsgateway_compatible: true\nawsgateway_compatible_payload_version: '2.0'\nmatch: { path_template: '/pets/{id}', methods: [POST] }`,
    req: request({
      method: 'POST',
      path: '/pets/7?a=1&a=2&flag&b=x%20y',
      headers: [
        ['cookie', 'c1=v1; c2=v2'],
        ['accept', 'text/html'],
        ['accept', 'application/json'],
        ['user-agent', 'curl/8'],
        ['x-forwarded-for', '192.0.2.1'],
      ],
      body: Buffer.from('hello'),
      protocol: 'HTTP/2',
      sourceAddress: '198.51.100.20:443',
    }),
    expected: {
      version: '2.0',
      routeKey: 'POST /pets/{id}',
      rawPath: '/pets/7',
      rawQueryString: 'a=1&a=2&flag&b=x%20y',
      cookies: ['c1=v1', 'c2=v2'],
      headers: { host: 'abc.myhost.test', accept: 'text/html,application/json', 'user-agent': 'curl/8', 'x-forwarded-for': '192.0.2.1' },
      queryStringParameters: { a: '1,2', flag: '', b: 'x y' },
      pathParameters: { id: '7' },
      requestContext: {
        domainName: 'abc.myhost.test',
        domainPrefix: 'abc',
        http: { method: 'POST', path: '/pets/7', protocol: 'HTTP/2', sourceIp: '198.51.100.20', userAgent: 'curl/8' },
        requestId: '1234567890',
        routeKey: 'POST /pets/{id}',
        stage: '$default',
        time: '06/Sep/2022:03:55:14 +0000',
        timeEpoch: 1662436514000,
      },
      body: 'aGVsbG8=',
      isBase64Encoded: true,
    },
  },
  {
    name: 'leaves cookies, queryStringParameters and pathParameters out of a bare 2.0 event, routeKey $default',
    yaml: `awsgateway_compatible: true\nawsgateway_compatible_payload_version: '2.0'\nmatch: { path_prefix: / }`,
    req: request({ path: '/x', authority: 'localhost' }),
    expected: {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/x',
      rawQueryString: '',
      headers: { host: 'localhost' },
      requestContext: {
        domainName: 'localhost',
        domainPrefix: 'localhost',
        http: { method: 'GET', path: '/x', protocol: 'HTTP/1.1' },
        requestId: '1234567890',
        routeKey: '$default',
        stage: '$default',
        time: '06/Sep/2022:03:55:14 +0000',
        timeEpoch: 1662436514000,
      },
      body: '',
      isBase64Encoded: true,
    },
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.strictSame(eventOf(c.yaml, c.req), c.expected);
  });
}

const bodyCases: Array<{ name: string; headers: Array<readonly [string, string]>; body: Buffer | null; yaml?: string; body64: string | undefined; isBase64Encoded: boolean }> = [
  { name: 'base64-encodes a body without Content-Type, with no content-type entry (Kong #14)', headers: [], body: Buffer.from('text'), body64: 'dGV4dA==', isBase64Encoded: true },
  { name: 'base64-encodes a JSON body too (Kong #15)', headers: [['content-type', 'application/json']], body: Buffer.from('{"a":1}'), body64: 'eyJhIjoxfQ==', isBase64Encoded: true },
  { name: 'base64-encodes an unknown content type (Kong #16)', headers: [['content-type', 'foo/bar']], body: Buffer.from('text'), body64: 'dGV4dA==', isBase64Encoded: true },
  { name: 'sends a bodiless request as body "" with isBase64Encoded true, as Kong does', headers: [], body: null, body64: '', isBase64Encoded: true },
  { name: 'treats an empty body like no body', headers: [['content-length', '0']], body: Buffer.alloc(0), body64: '', isBase64Encoded: true },
  { name: 'omits the body of a bodiless request without base64_encode_body', headers: [], body: null, yaml: 'base64_encode_body: false', body64: undefined, isBase64Encoded: false },
];

for (const c of bodyCases) {
  t.test(c.name, async (t) => {
    const event = eventOf(`awsgateway_compatible: true\nmatch: { path_prefix: / }\n${c.yaml ?? ''}`, request({ method: 'POST', path: '/p', headers: c.headers, body: c.body })) as Record<string, unknown>;
    t.equal(event.body, c.body64);
    t.equal(event.isBase64Encoded, c.isBase64Encoded);
    t.equal('body' in event, c.body64 !== undefined);
    if (c.headers.length === 0) t.notOk('content-type' in (event.multiValueHeaders as object));
  });
}

t.test('a skipped large body (skip_large_bodies, max_body_size) becomes body ""', async (t) => {
  const r = route('awsgateway_compatible: true\nmax_body_size: 8192\nmatch: { path_prefix: / }');
  const big = request({ method: 'POST', path: '/p', body: Buffer.alloc(32 * 1024, 'a') });
  const built = buildPayload(big, r.config, r.match('/p', 'POST')!);
  t.equal(built.skippedBody, true);
  t.equal((JSON.parse(built.bytes.toString()) as { body: string }).body, '');
  const small = buildPayload(request({ method: 'POST', path: '/p', body: Buffer.alloc(1024, 'a') }), r.config, r.match('/p', 'POST')!);
  t.equal(small.skippedBody, false);
  t.equal((JSON.parse(small.bytes.toString()) as { body: string }).body, Buffer.alloc(1024, 'a').toString('base64'));
});

t.test('writes request times in Common Log Format, UTC', async (t) => {
  t.equal(toClfTime(Date.UTC(2024, 0, 2, 3, 4, 5)), '02/Jan/2024:03:04:05 +0000');
  t.equal(toClfTime(Date.UTC(2024, 11, 31, 23, 59, 59, 999)), '31/Dec/2024:23:59:59 +0000');
});

t.test('keeps at most 100 headers, as nginx reads them', async (t) => {
  const headers = Array.from({ length: 150 }, (_, i) => [`h${i}`, 'v'] as const);
  const event = eventOf('awsgateway_compatible: true\nmatch: { path_prefix: / }', request({ path: '/p', headers })) as { headers: object };
  t.equal(Object.keys(event.headers).length, 100);
});

// Both event versions; every header a client could write to claim an address is sent too.
const SPOOFING_HEADERS: Array<readonly [string, string]> = [
  ['x-forwarded-for', '6.6.6.6'],
  ['x-envoy-external-address', '7.7.7.7'],
  ['x-real-ip', '8.8.8.8'],
  ['forwarded', 'for=9.9.9.9'],
];
const sourceIpIn = (version: '1.0' | '2.0', sourceAddress: string | undefined): unknown => {
  const event = eventOf(
    `awsgateway_compatible: true\nawsgateway_compatible_payload_version: '${version}'\nmatch: { path_prefix: / }`,
    request({ path: '/p', headers: SPOOFING_HEADERS, ...(sourceAddress === undefined ? {} : { sourceAddress }) }),
  ) as { requestContext: { identity?: Record<string, unknown>; http?: Record<string, unknown> } };
  const holder = version === '1.0' ? event.requestContext.identity : event.requestContext.http;
  return holder !== undefined && 'sourceIp' in holder ? holder.sourceIp : '(no sourceIp key)';
};

t.test("sourceIp is Envoy's source.address without its port, in both event versions; client headers are never read", async (t) => {
  const cases: Array<[string | undefined, unknown, string]> = [
    ['10.0.0.1:51234', '10.0.0.1', 'IPv4 and port'],
    ['[::1]:5000', '::1', 'IPv6 in brackets and port'],
    ['[2001:db8::1%eth0]:80', '2001:db8::1%eth0', 'IPv6 with a zone'],
    ['192.0.2.5', '192.0.2.5', 'an address without a port'],
    ['2001:db8::9', '2001:db8::9', 'a bare IPv6 address'],
    [undefined, '(no sourceIp key)', 'no source.address attribute: no sourceIp rather than a header'],
    ['/var/run/envoy.sock', '(no sourceIp key)', 'a pipe address is no IP'],
    ['[::1', '(no sourceIp key)', 'a broken address is no IP'],
  ];
  for (const version of ['1.0', '2.0'] as const) {
    for (const [address, expected, why] of cases) t.equal(sourceIpIn(version, address), expected, `${version}: ${why}`);
  }
});

t.test('header and query names that are Object.prototype names are plain fields in both event versions', async (t) => {
  const req = request({
    path: '/p?__proto__=x&constructor&toString=1&toString=2',
    headers: [
      ['constructor', 'c'],
      ['__proto__', 'p'],
      ['tostring', 't'],
      ['constructor', 'd'],
    ],
  });
  const v1 = eventOf('awsgateway_compatible: true\nmatch: { path_prefix: / }', req) as Record<string, unknown>;
  t.equal(JSON.stringify(v1.headers), '{"host":"abc.myhost.test","constructor":"c","__proto__":"p","tostring":"t"}');
  t.equal(JSON.stringify(v1.multiValueHeaders), '{"host":["abc.myhost.test"],"constructor":["c","d"],"__proto__":["p"],"tostring":["t"]}');
  t.equal(JSON.stringify(v1.queryStringParameters), '{"__proto__":"x","constructor":true,"toString":"1"}');
  t.equal(JSON.stringify(v1.multiValueQueryStringParameters), '{"__proto__":["x"],"constructor":[true],"toString":["1","2"]}');
  const v2 = eventOf('awsgateway_compatible: true\nawsgateway_compatible_payload_version: "2.0"\nmatch: { path_prefix: / }', req) as Record<string, unknown>;
  t.equal(JSON.stringify(v2.headers), '{"host":"abc.myhost.test","constructor":"c,d","__proto__":"p","tostring":"t"}');
  t.equal(JSON.stringify(v2.queryStringParameters), '{"__proto__":"x","constructor":"","toString":"1,2"}');
});
