// The hand-written ImmediateResponse encoder against protobufjs: the same
// bytes for every shape the sidecar sends, and what Envoy decodes from them.
import t from 'tap';
import type { MethodDefinition } from '@grpc/grpc-js';
import { encodeImmediateResponse, type SetHeader } from '../../src/extproc/encode-immediate';
import type { ProcessingResponse } from '../../src/extproc/messages';
import { loadSchemas } from '../../src/extproc/proto';
import { immediateResponse } from '../../src/extproc/responses';

const method = loadSchemas().extProc.Process as MethodDefinition<unknown, unknown>;
/** proto-loader's own encoding of the same answer, given as an object. */
const libraryBytes = (status: number, headers: readonly SetHeader[], body: Buffer, details: string): Buffer =>
  method.responseSerialize({
    immediate_response: {
      status: { code: status },
      headers: { set_headers: headers.map((h) => ({ header: { key: h.name, raw_value: Buffer.from(h.value, 'utf8') }, append: { value: h.append } })) },
      body,
      details,
    },
  } satisfies ProcessingResponse);
const decode = (bytes: Buffer) => method.responseDeserialize(bytes) as Required<ProcessingResponse>;

const typical: SetHeader[] = [
  { name: 'content-type', value: 'application/json', append: false },
  { name: 'x-amzn-requestid', value: '00000000-0000-4000-8000-000000000001', append: false },
  { name: 'set-cookie', value: 'a=1', append: false },
  { name: 'set-cookie', value: 'b=2', append: true },
];

const cases: Array<{ name: string; status: number; headers: SetHeader[]; body: Buffer; details: string }> = [
  { name: 'a typical answer', status: 200, headers: typical, body: Buffer.from('{"response":"yes"}'), details: 'lambda_extproc_response' },
  { name: 'no headers, empty body', status: 204, headers: [], body: Buffer.alloc(0), details: 'lambda_extproc_response' },
  { name: "status 418 (a gap in Envoy's enum) and 599", status: 418, headers: typical.slice(0, 1), body: Buffer.from('teapot'), details: 'x' },
  { name: 'status 599, empty details', status: 599, headers: [], body: Buffer.from('x'), details: '' },
  { name: 'non-ASCII header values go out as UTF-8 (é is two bytes, not latin1\'s one), an empty value', status: 200, headers: [{ name: 'x-name', value: 'caf\u00e9 \u00ff', append: false }, { name: 'x-empty', value: '', append: false }], body: Buffer.alloc(0), details: 'd' },
  { name: 'UTF-8 values of two, three and four bytes per character', status: 200, headers: [{ name: 'x-name', value: 'Jos\u00e9', append: false }, { name: 'x-snow', value: '\u2603 \u20ac', append: true }, { name: 'x-emoji', value: 'a\u{1f600}b', append: false }], body: Buffer.from('{}'), details: 'd' },
  { name: 'a UTF-8 value whose byte length, not its string length, needs a two-byte varint', status: 200, headers: [{ name: 'x-long', value: '\u00e9'.repeat(100), append: false }, ...typical], body: Buffer.from('x'), details: 'd' },
  { name: 'a lone surrogate is written as U+FFFD, as Buffer.from does', status: 200, headers: [{ name: 'x-bad', value: 'a\ud800b', append: false }], body: Buffer.alloc(0), details: 'd' },
  { name: 'UTF-8 details and a non-ASCII header name', status: 502, headers: [{ name: 'x-\u00fc', value: 'v', append: false }], body: Buffer.from('e'), details: 'lambda_extproc_\u00fcnicode \u2713' },
  { name: 'lengths past one varint byte: a 300-byte value, a 200 KiB body', status: 200, headers: [{ name: 'x-long', value: 'v'.repeat(300), append: false }], body: Buffer.alloc(200 * 1024, 0x61), details: 'lambda_extproc_response' },
  { name: 'a 3 MiB body (three-byte lengths all the way out)', status: 200, headers: typical, body: Buffer.alloc(3 * 1024 * 1024, 0x62), details: 'lambda_extproc_response' },
  { name: 'ASCII headers, then one non-ASCII value last (every length measured as UTF-8 again)', status: 200, headers: [...typical, { name: 'x-last', value: '\u00e9'.repeat(70), append: true }], body: Buffer.from('x'), details: 'd' },
  { name: 'ASCII headers with UTF-8 details', status: 502, headers: typical, body: Buffer.from('x'), details: 'lambda_extproc_\u00e9\u{1f600}' },
  { name: 'a hundred headers', status: 200, headers: Array.from({ length: 100 }, (_, i) => ({ name: `x-h${i}`, value: `value ${i}`, append: i % 3 === 0 })), body: Buffer.from('{}'), details: 'd' },
];

for (const c of cases) {
  t.test(`encodeImmediateResponse: ${c.name}`, async (t) => {
    const bytes = encodeImmediateResponse(c.status, c.headers, c.body, c.details);
    t.ok(bytes.equals(libraryBytes(c.status, c.headers, c.body, c.details)), 'the bytes protobufjs writes');
    const decoded = decode(bytes).immediate_response;
    t.equal(decoded.status.code, c.status);
    t.equal(decoded.details, c.details);
    t.ok(Buffer.from(decoded.body ?? []).equals(c.body), 'body');
    t.same(
      (decoded.headers?.set_headers ?? []).map((h) => ({ name: h.header.key, value: Buffer.from(h.header.raw_value).toString('utf8'), append: h.append.value })),
      c.headers.map((h) => ({ ...h, value: Buffer.from(h.value, 'utf8').toString('utf8') })),
    );
  });
}

t.test('header values leave as their UTF-8 bytes: café is 63 61 66 c3 a9', async (t) => {
  const bytes = encodeImmediateResponse(200, [{ name: 'x-word', value: 'caf\u00e9', append: false }], Buffer.alloc(0), 'd');
  const raw = Buffer.from(decode(bytes).immediate_response.headers?.set_headers?.[0]?.header.raw_value ?? []);
  t.strictSame([...raw], [0x63, 0x61, 0x66, 0xc3, 0xa9]);
});

t.test('the Process serializer sends encoded answers as they are and encodes objects itself', async (t) => {
  const bytes = encodeImmediateResponse(200, typical, Buffer.from('x'), 'd');
  t.equal(method.responseSerialize(bytes), bytes, 'the same Buffer, not a copy');
  const continued = decode(method.responseSerialize({ request_headers: { response: { status: 0 } } }));
  t.same(Object.keys(continued.request_headers ?? {}), ['response'], 'a CONTINUE object is encoded by proto-loader');
});

t.test('immediateResponse: lower-cased set_headers, hop-by-hop left out, repeats appended, content-type added when Lambda sent none', async (t) => {
  const headers = (bytes: Buffer) => (decode(bytes).immediate_response.headers?.set_headers ?? []).map((h) => [h.header.key, Buffer.from(h.header.raw_value).toString('latin1'), h.append.value]);
  const sent = immediateResponse(
    {
      status: 201,
      headers: [
        ['X-Amzn-RequestId', 'r1'],
        ['connection', 'keep-alive'],
        ['content-length', '2'],
        ['Set-Cookie', 'a=1'],
        ['set-cookie', 'b=2'],
        [':status', '201'],
      ],
      body: Buffer.from('{}'),
    },
    'lambda_extproc_response',
  );
  t.same(headers(sent), [
    ['x-amzn-requestid', 'r1', false],
    ['set-cookie', 'a=1', false],
    ['set-cookie', 'b=2', true],
    ['content-type', 'application/octet-stream', false],
  ]);
  t.equal(decode(sent).immediate_response.status.code, 201);
  const empty = immediateResponse({ status: 204, headers: [], body: Buffer.alloc(0) }, 'd');
  t.same(headers(empty), [['content-type', 'text/plain', false]], 'an empty body is labelled text/plain');
  const typed = immediateResponse({ status: 200, headers: [['Content-Type', 'application/json']], body: Buffer.from('{}') }, 'd');
  t.same(headers(typed), [['content-type', 'application/json', false]], "Lambda's content-type, whatever its case, is the only one");
});

t.test('immediateResponse: append holds past the short-list search: a name repeated before and after the 16th line, any case, appends every time', async (t) => {
  const lines: Array<readonly [string, string]> = [];
  for (let i = 0; i < 40; i++) lines.push(i % 5 === 0 ? [i % 10 === 0 ? 'Set-Cookie' : 'set-cookie', `c${i}`] : [`x-h${i % 7}`, `v${i}`]);
  const sent = decode(immediateResponse({ status: 200, headers: lines, body: Buffer.from('x') }, 'd')).immediate_response.headers?.set_headers ?? [];
  // Written out independently: a name appends when an earlier line had it, compared lower-cased.
  const expected = lines.map(([name, value], i) => [name.toLowerCase(), value, lines.slice(0, i).some(([earlier]) => earlier.toLowerCase() === name.toLowerCase())]);
  t.same(
    sent.map((h) => [h.header.key, Buffer.from(h.header.raw_value).toString('utf8'), h.append.value]),
    [...expected, ['content-type', 'application/octet-stream', false]],
  );
  t.equal(sent.filter((h) => h.header.key === 'set-cookie' && !h.append.value).length, 1, 'one set-cookie overwrites, seven append');
});
