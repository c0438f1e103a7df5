// Lambda's event stream and HTTP-integration prelude → the two response shapes.
import { EventStreamCodec } from '@smithy/core/event-streams';
import t from 'tap';
import { LambdaExtprocError } from '../../src/errors';
import type { HeaderList } from '../../src/http';
import { decodePayloadChunks } from '../../src/lambda/event-stream';
import { PRELUDE_LIMIT, readPrelude } from '../../src/lambda/http-integration-prelude';
import type { OutputOptions } from '../../src/lambda/output';
import type { LambdaStream } from '../../src/lambda/stream-invoke';
import { collectStreamedResponse, startStreamedResponse } from '../../src/lambda/stream-output';
import { encodeEvent, httpIntegrationPrelude, invokeComplete, payloadChunk } from '../fakes/lambda-stream';

const BUFFERED: OutputOptions = { is_proxy_integration: false, empty_arrays_mode: 'correct', awsgateway_compatible: false, awsgateway_compatible_payload_version: '1.0' };
const PROXY: OutputOptions = { ...BUFFERED, is_proxy_integration: true };
const LAMBDA_HEADERS: HeaderList = [
  ['content-type', 'application/vnd.awslambda.http-integration-response'],
  ['x-amzn-requestid', 'req-1'],
  ['x-amz-executed-version', '$LATEST'],
  ['transfer-encoding', 'chunked'],
];

async function* pieces(...parts: Array<Buffer | string>): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.isBuffer(part) ? part : Buffer.from(part, 'utf8');
}

async function* oneByteAtATime(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
}

async function all(chunks: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

const streamOf = (headers: HeaderList, ...parts: Array<Buffer | string>): LambdaStream => ({ status: 200, headers, chunks: pieces(...parts) });

t.test('event stream: PayloadChunks in order however the bytes are split; empty chunks and unknown events skipped', async (t) => {
  const wire = Buffer.concat([payloadChunk(Buffer.from('ab')), payloadChunk(Buffer.alloc(0)), encodeEvent('SomethingNew', Buffer.from('?')), payloadChunk(Buffer.from('c')), invokeComplete()]);
  const got: string[] = [];
  for await (const chunk of decodePayloadChunks(oneByteAtATime(wire), 'fn')) got.push(chunk.toString());
  t.same(got, ['ab', 'c']);
});

t.test('event stream: ErrorCode fails with function_error; no InvokeComplete, a bad checksum or an exception event fail plainly', async (t) => {
  const failed = await failure(all(decodePayloadChunks(pieces(payloadChunk(Buffer.from('x')), invokeComplete({ ErrorCode: 'Unhandled', ErrorDetails: '{}' })), 'fn')));
  t.match(failed, { kind: 'function_error', details: { awsCode: 'Unhandled' } });
  t.match(await failure(all(decodePayloadChunks(pieces(payloadChunk(Buffer.from('x'))), 'fn'))), { message: /without InvokeComplete/ });
  const corrupt = payloadChunk(Buffer.from('abc'));
  corrupt.writeUInt8((corrupt.readUInt8(corrupt.length - 5) ^ 0xff) & 0xff, corrupt.length - 5);
  t.match(await failure(all(decodePayloadChunks(pieces(corrupt), 'fn'))), { message: /checksum/ });
  const codec = new EventStreamCodec((b) => Buffer.from(b).toString(), (text) => Buffer.from(text));
  const exception = Buffer.from(
    codec.encode({
      headers: { ':message-type': { type: 'string', value: 'exception' }, ':exception-type': { type: 'string', value: 'ServiceException' } },
      body: Buffer.from('{"message":"slow down"}'),
    }),
  );
  t.match(await failure(all(decodePayloadChunks(pieces(exception), 'fn'))), { message: /ServiceException/ });
  t.notOk((await failure(all(decodePayloadChunks(pieces(payloadChunk(Buffer.from('x'))), 'fn')))) instanceof LambdaExtprocError, 'a cut is classified by the invoker, not here');
});

t.test('prelude: split anywhere, even inside the delimiter; body bytes after it in the same chunk are kept', async (t) => {
  const wire = Buffer.concat([httpIntegrationPrelude({ statusCode: 201, headers: { 'X-Kind': 'demo', 'Content-Type': 'text/plain' }, cookies: ['a=1', 'b=2'] }), Buffer.from('hello')]);
  for (const cut of [1, 10, wire.length - 9, wire.length - 7, wire.length - 5]) {
    const { head, body } = await readPrelude(pieces(wire.subarray(0, cut), wire.subarray(cut), ' world'));
    t.equal(head.status, 201);
    t.same(head.headers, [['x-kind', 'demo'], ['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    t.equal(await all(body), 'hello world', `split at ${cut}`);
  }
});

t.test('prelude: refused with bad_function_output and a reason, as buffered proxy output is', async (t) => {
  const cases: Array<[string, Buffer | string]> = [
    ['statusCode must be an integer from 100 to 599', httpIntegrationPrelude({ statusCode: 99 })],
    ['headers.x-a holds a line break', Buffer.concat([Buffer.from('{"headers":{"x-a":"1\\r\\nx-b: 2"}}'), Buffer.alloc(8)])],
    ['cookies holds a line break', httpIntegrationPrelude({ cookies: ['a=1\nb=2'] })],
    ['cookies holds a control character', httpIntegrationPrelude({ cookies: ['a=1\u0000'] })],
    ['has an invalid header name', Buffer.concat([Buffer.from('{"headers":{"bad name":"1"}}'), Buffer.alloc(8)])],
    ['not followed by eight NUL bytes', '{"statusCode":200}'],
    ['ended before the HTTP-integration prelude', ''],
    [`passed ${PRELUDE_LIMIT} bytes`, `{"x":"${'a'.repeat(PRELUDE_LIMIT)}"`],
    ['must be a JSON object', Buffer.concat([Buffer.from('[1]'), Buffer.alloc(8)])],
  ];
  for (const [reason, wire] of cases) {
    const error = await failure(readPrelude(wire === '' ? pieces() : pieces(wire)));
    t.match(error, { kind: 'bad_function_output', details: { publicDetail: new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) } }, reason);
  }
  const withoutStatus = await readPrelude(pieces(httpIntegrationPrelude({})));
  t.equal(withoutStatus.head.status, 200, 'no statusCode: 200, as function URLs answer');
});

t.test('start: proxy streams take status and headers from the prelude; Lambda headers stay unless the function names them', async (t) => {
  const start = await startStreamedResponse(streamOf(LAMBDA_HEADERS, httpIntegrationPrelude({ statusCode: 202, headers: { 'content-type': 'text/event-stream', 'x-amzn-requestid': 'mine' } }), 'data: 1\n\n', 'data: 2\n\n'), PROXY);
  if (start.kind !== 'stream') throw new Error('expected a stream');
  t.equal(start.response.status, 202);
  t.same(start.response.headers, [['x-amz-executed-version', '$LATEST'], ['content-type', 'text/event-stream'], ['x-amzn-requestid', 'mine']], 'no framing content-type, no hop-by-hop');
  t.equal(await all(start.response.chunks), 'data: 1\n\ndata: 2\n\n');
});

t.test('start: without proxy integration the bytes pass through with Lambda\'s status and content type', async (t) => {
  const start = await startStreamedResponse(streamOf([['content-type', 'text/plain'], ['x-amzn-requestid', 'r']], 'a', 'b'), BUFFERED);
  if (start.kind !== 'stream') throw new Error('expected a stream');
  t.same([start.response.status, start.response.headers], [200, [['content-type', 'text/plain'], ['x-amzn-requestid', 'r']]]);
  t.equal(await all(start.response.chunks), 'ab');
});

t.test('start: a stream that ends before its first byte is answered whole', async (t) => {
  const start = await startStreamedResponse(streamOf([['content-type', 'text/plain']], Buffer.alloc(0)), BUFFERED);
  t.same(start, { kind: 'whole', response: { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.alloc(0) } });
});

async function* failingAfter(parts: string[], error: unknown): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
  throw error;
}

t.test('start: a function error before any byte is answered as the buffered route answers it', async (t) => {
  const details = '{"errorType":"Error","errorMessage":"boom"}';
  const functionError = new LambdaExtprocError('function_error', 'failed', { awsCode: 'Unhandled' }, { cause: { errorCode: 'Unhandled', errorDetails: details, logResult: undefined } });
  const stream = (): LambdaStream => ({ status: 200, headers: [['content-type', 'application/octet-stream'], ['x-amzn-requestid', 'r']], chunks: failingAfter([], functionError) });
  const plain = await startStreamedResponse(stream(), BUFFERED);
  t.same(plain, { kind: 'whole', response: { status: 200, headers: [['x-amzn-requestid', 'r'], ['content-type', 'application/json'], ['x-amz-function-error', 'Unhandled']], body: Buffer.from(details) } });
  const mapped = await startStreamedResponse(stream(), { ...BUFFERED, unhandled_status: 502 });
  t.equal(mapped.kind === 'whole' && mapped.response.status, 502, 'unhandled_status applies');
  t.match(await failure(startStreamedResponse(stream(), PROXY)), { kind: 'bad_function_output' }, 'proxy routes find no statusCode in the error, as buffered');
});

t.test('start: other failures before the first byte are thrown; after it, they reach the chunk consumer', async (t) => {
  const cut = new LambdaExtprocError('lambda_unreachable', 'cut');
  t.equal(await failure(startStreamedResponse({ status: 200, headers: [], chunks: failingAfter([], cut) }, BUFFERED)), cut);
  const start = await startStreamedResponse({ status: 200, headers: [], chunks: failingAfter(['a'], cut) }, BUFFERED);
  t.equal(start.kind, 'stream');
  if (start.kind === 'stream') t.equal(await failure(all(start.response.chunks)), cut);
});

t.test('collect: the fallback reads the stream into one response, up to the limit', async (t) => {
  const start = await startStreamedResponse(streamOf([['content-type', 'text/plain']], 'ab', 'cd'), BUFFERED);
  t.same(await collectStreamedResponse(start, 4, 'fn'), { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from('abcd') });
  const big = await startStreamedResponse(streamOf([], 'ab', 'cde'), BUFFERED);
  t.match(await failure(collectStreamedResponse(big, 4, 'fn')), { kind: 'lambda_response_too_large' });
});
