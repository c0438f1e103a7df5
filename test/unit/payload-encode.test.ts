import t from 'tap';
import { encodePayload } from '../../src/payload/encode';

const big = (n: number) => Buffer.alloc(n, 0xab).toString('base64');

t.test('encodes exactly as JSON.stringify would, spliced or not', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['a small forward payload', { request_method: 'POST', request_body: big(10), request_body_base64: true, request_body_args: {} }],
    ['a large base64 forward body', { request_method: 'POST', request_headers: { 'x-a': ['1', '2'], body: '' }, request_body: big(100_000), request_body_base64: true, request_body_args: {} }],
    ['a large base64 API Gateway body', { version: '1.0', headers: { body: 'x' }, body: big(50_000), isBase64Encoded: true, requestContext: { path: '/é"\\' } }],
    ['a large text body (not base64: escaped by JSON.stringify)', { body: `"quoted"\n${'é'.repeat(20_000)}`, isBase64Encoded: false }],
    ['a legacy array payload', [{}, []]],
    // Both splice forms (one UTF-8 text below 16 KiB, bytes side by side from it on), around each threshold, with non-ASCII and escapes elsewhere.
    ['a 1 KiB base64 forward body next to non-ASCII headers', { request_method: 'POST', request_headers: { 'x-é': 'ü"\\\n', host: 'h' }, request_body: big(1024), request_body_base64: true, request_body_args: {} }],
    ...[189, 190, 191, 12_285, 12_286, 12_287].map((bytes): [string, unknown] => [`a ${bytes}-byte base64 body (${big(bytes).length} chars)`, { a: '€', request_body: big(bytes), request_body_base64: true, z: '\u2028' }]),
    ['a 1 KiB base64 API Gateway body', { version: '2.0', rawPath: '/ü', body: big(1024), isBase64Encoded: true }],
    ['a large body flagged base64 inside a nested object only', { nested: { body: big(40_000), isBase64Encoded: true } }],
  ];
  for (const [name, value] of cases) {
    const encoded = encodePayload(value);
    t.ok(encoded.equals(Buffer.from(JSON.stringify(value), 'utf8')), name);
  }
});
