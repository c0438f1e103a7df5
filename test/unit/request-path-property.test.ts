// The request path (readHeaderMap → toRequestHead → toHttpRequest →
// buildPayload) gives the same request head and the same payload bytes as
// the code it replaced (test/support/request-path-before.ts), on thousands
// of generated requests: odd and repeated header names (host, __proto__,
// Object.prototype names, numbers, upper case), pseudo-headers missing or
// repeated, UTF-8 / latin1 / escaped values, values in one shared buffer as
// protobufjs decodes them, more than 100 headers, query argument edge
// cases, every body type around the splice thresholds, every payload shape.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { parseConfig } from '../../src/config/load';
import type { RouteConfig } from '../../src/config/schema';
import { readHeaderMap } from '../../src/extproc/headers';
import type { HeaderMap, HeaderValue, StructValue } from '../../src/extproc/messages';
import { toHttpRequest, toRequestHead } from '../../src/extproc/request';
import type { HttpRequest } from '../../src/http';
import { buildPayload } from '../../src/payload/build';
import { buildGatewayV1Event } from '../../src/payload/gateway-v1';
import { buildGatewayV2Event, routeKeyOf } from '../../src/payload/gateway-v2';
import { buildLegacyPayload } from '../../src/payload/kong';
import { compileRoutes, type CompiledRoute } from '../../src/routing';
import { buildForwardPayloadBefore, readHeaderMapBefore, toRequestHeadBefore } from '../support/request-path-before';

// mulberry32: a fixed seed, so a failure repeats.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = random(20261204);
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const NAMES = ['Host', 'host', 'user-agent', 'User-Agent', 'accept', 'content-type', 'Content-Type', 'content-length', 'x-request-id', 'x-forwarded-for', 'cookie', 'x-dup', 'X-Dup', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '1', '0', '42', 'x-é'];
const PSEUDO = [':method', ':path', ':authority', ':scheme', ':protocol', ':Path'];
const TEXTS = ['', 'a', 'api.example.com', '*/*', 'lambda-extproc-bench/1', 'q="x"', 'back\\slash', 'tab\there', 'ctl\u0001', 'café', '☃ 😀', '\u2028', 'ünï', 'x'.repeat(300)];
const CONTENT_TYPES = ['application/octet-stream', 'text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/json', 'Application/JSON; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=B', 'image/png'];
const QUERY_PARTS = ['bench=1', 'a=1', 'a=2', 'b', 'c=', '', '%41=%42', 'bad=%zz', 'p=a+b', '__proto__=x', 'toString=1', 'constructor', '1=one', 'k%20ey=%E2%98%83'];
const BODY_SIZES = [0, 1, 10, 189, 190, 191, 1024, 12_287, 20_000];

function valueBytes(): Buffer {
  const kind = int(6);
  if (kind === 0) return Buffer.from([0xe9, 0x41]); // latin1, not UTF-8
  if (kind === 1) return Buffer.from([0xc3]); // a cut UTF-8 sequence
  return Buffer.from(pick(TEXTS), 'utf8');
}

function bodyFor(contentType: string | undefined, size: number): Buffer {
  if (contentType?.toLowerCase().startsWith('application/json')) return Buffer.from(pick(['{"a":1,"__proto__":2}', '[1,"x"]', '[]', '{"broken', '42']));
  if (contentType === 'application/x-www-form-urlencoded') return Buffer.from(pick(['a=1&a=2&b', '__proto__=p&x=%zz', '']));
  if (contentType?.startsWith('multipart/')) return Buffer.from('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--B--\r\n');
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = rnd() < 0.9 ? 0x61 + int(26) : int(256);
  return body;
}

interface Case {
  readonly map: HeaderMap | undefined;
  readonly chunks: Buffer[] | null;
  readonly attributes: Readonly<Record<string, StructValue>> | undefined;
}

function generate(): Case {
  const lines: Array<{ key: string; bytes: Buffer | undefined; value?: string }> = [];
  const hasBody = rnd() < 0.6;
  const contentType = rnd() < 0.8 ? pick(CONTENT_TYPES) : undefined;
  for (const name of PSEUDO) {
    if (rnd() < 0.15) continue;
    let text = pick(TEXTS);
    if (name === ':method') text = pick(['GET', 'POST', 'PUT', 'get']);
    if (name.toLowerCase() === ':path') text = `${pick(['/bench', '/', '/ü/x', '/a b'])}${rnd() < 0.8 ? `?${Array.from({ length: int(5) }, () => pick(QUERY_PARTS)).join('&')}` : ''}`;
    lines.push({ key: name, bytes: Buffer.from(text, 'utf8') });
    if (rnd() < 0.05) lines.push({ key: name, bytes: Buffer.from('/again', 'utf8') }); // a repeated pseudo-header: the last one counts
  }
  const regular = rnd() < 0.03 ? 105 + int(10) : int(12);
  for (let i = 0; i < regular; i++) {
    const key = regular > 100 ? `h${i % 97}` : pick(NAMES);
    lines.push({ key, bytes: valueBytes() });
  }
  if (contentType !== undefined) lines.push({ key: 'content-type', bytes: Buffer.from(contentType) });
  if (rnd() < 0.7) lines.push({ key: 'x-request-id', bytes: Buffer.from('7f0c6a52-3d0e-4b8f-9a61-2b1d7c9e0a11') });
  // Older Envoys: value instead of raw_value; an empty raw_value falls back to value too.
  for (const line of lines) {
    const r = rnd();
    if (r < 0.05) line.bytes = undefined;
    else if (r < 0.08) line.bytes = Buffer.alloc(0);
    if (line.bytes === undefined || line.bytes.length === 0) line.value = rnd() < 0.5 ? 'Zoë' : undefined;
  }
  // Half the time every raw_value is a view of one buffer, as protobufjs decodes a message.
  if (rnd() < 0.5) {
    const shared = Buffer.concat(lines.flatMap((line) => [Buffer.from('\n\u0012'), line.bytes ?? Buffer.alloc(0)]));
    let at = 0;
    for (const line of lines) {
      at += 2;
      const length = line.bytes?.length ?? 0;
      if (line.bytes !== undefined) line.bytes = shared.subarray(at, at + length);
      at += length;
    }
  }
  const headers: HeaderValue[] = lines.map(({ key, bytes, value }) => ({ key, ...(bytes === undefined ? {} : { raw_value: bytes }), ...(value === undefined ? {} : { value }) }));
  const size = pick(BODY_SIZES);
  const body = hasBody ? bodyFor(contentType, size) : null;
  const chunks = body === null ? (rnd() < 0.5 ? null : []) : rnd() < 0.3 && body.length > 1 ? [body.subarray(0, 1), body.subarray(1)] : [body];
  const attributes =
    rnd() < 0.5
      ? undefined
      : { 'request.protocol': { stringValue: pick(['HTTP/2', '', 'HTTP/1.1']) }, 'source.address': { stringValue: pick(['10.0.0.1:5000', '[::1]:80', '']) } };
  return { map: rnd() < 0.01 ? undefined : { headers }, chunks, attributes };
}

function route(yaml: string): CompiledRoute {
  const loaded = parseConfig(`routes:\n  - name: r\n    function_name: F\n    aws_region: us-east-1\n${yaml.replace(/^/gm, '    ')}\n`, {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return compileRoutes(loaded.config.routes).routes[0] as CompiledRoute;
}

const ROUTES = [
  'forward_request_method: true\nforward_request_uri: true\nforward_request_headers: true\nforward_request_body: true',
  'forward_request_method: true\nforward_request_uri: true\nforward_request_headers: true\nforward_request_body: true\nbase64_encode_body: false',
  'forward_request_headers: true',
  'forward_request_body: true\nskip_large_bodies: true\nmax_body_size: 1000',
  'forward_request_uri: true\nforward_request_method: true',
  'timeout: 1000',
  'awsgateway_compatible: true',
  'awsgateway_compatible: true\nawsgateway_compatible_payload_version: "2.0"\nbase64_encode_body: true',
  'awsgateway_compatible: true\nskip_large_bodies: true\nmax_body_size: 1000',
].map((yaml) => route(`match: { path_prefix: / }\n${yaml}`));

// What the code before produced: its head, its payload value, JSON.stringify's bytes.
function before(c: Case, head: Omit<HttpRequest, 'body'>, config: RouteConfig, compiled: CompiledRoute): { bytes: Buffer; skippedBody: boolean } {
  const request: HttpRequest = toHttpRequest(head, c.chunks);
  const match = compiled.match(request.pathname, request.method) ?? { pathParameters: {}, resource: request.pathname };
  const skippedBody = config.skip_large_bodies && request.body !== null && request.body.length > config.max_body_size;
  const effective = skippedBody ? { ...request, body: null } : request;
  let value: unknown;
  if (config.awsgateway_compatible) {
    value =
      config.awsgateway_compatible_payload_version === '2.0'
        ? buildGatewayV2Event(effective, match, { base64_encode_body: config.base64_encode_body, routeKey: routeKeyOf(config.match) })
        : buildGatewayV1Event(effective, match, config);
  } else if (config.forward_request_method || config.forward_request_uri || config.forward_request_headers || config.forward_request_body) {
    value = buildForwardPayloadBefore(effective, config);
  } else {
    value = buildLegacyPayload(effective);
  }
  return { bytes: Buffer.from(JSON.stringify(value), 'utf8'), skippedBody };
}

t.test('request head and payload bytes are those of the code before, on 3000 generated requests', async (t) => {
  const failures: string[] = [];
  let spliced = 0;
  for (let i = 0; i < 3000; i++) {
    const c = generate();
    const compiled = pick(ROUTES);
    const config = compiled.config;
    const head = toRequestHead(readHeaderMap(c.map), 1662436514000, c.attributes);
    const oldHead = toRequestHeadBefore(readHeaderMapBefore(c.map), 1662436514000, c.attributes);
    // A request without x-request-id gets a random one, on both sides: the payloads are compared with the same one.
    const generatedId = !c.map?.headers?.some((h) => h.key === 'x-request-id');
    const old = before(c, generatedId ? { ...oldHead, requestId: head.requestId } : oldHead, config, compiled);
    const comparable = (h: object): object => (generatedId ? { ...h, requestId: '' } : h);
    if (!isDeepStrictEqual(comparable(head), comparable(oldHead))) failures.push(`case ${i}: head ${JSON.stringify(head)} ≠ ${JSON.stringify(oldHead)}`);
    if (generatedId && !/^[0-9a-f-]{36}$/.test(head.requestId)) failures.push(`case ${i}: request id ${head.requestId}`);
    const request = toHttpRequest(head, c.chunks);
    const match = compiled.match(request.pathname, request.method) ?? { pathParameters: {}, resource: request.pathname };
    const built = buildPayload(request, config, match);
    if (!built.bytes.equals(old.bytes)) failures.push(`case ${i}: payload ${built.bytes.toString('utf8').slice(0, 400)} ≠ ${old.bytes.toString('utf8').slice(0, 400)}`);
    if (built.skippedBody !== old.skippedBody) failures.push(`case ${i}: skippedBody ${built.skippedBody} ≠ ${old.skippedBody}`);
    if (/"(request_body|body)":"[A-Za-z0-9+/=]{256,}"/.test(old.bytes.toString('latin1'))) spliced++;
  }
  t.same(failures.slice(0, 5), [], 'no difference');
  // The generator reaches the spliced base64 body (256 characters or more), not only JSON.stringify.
  t.ok(spliced > 100, `${spliced} payloads with a spliced body`);
});
