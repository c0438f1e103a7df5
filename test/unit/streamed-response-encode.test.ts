// The streamed answer's bytes are what protobufjs writes for the same message
// from our proto (held to Envoy's by proto-schema.test.ts).
import { join } from 'node:path';
import protobuf from 'protobufjs';
import t from 'tap';
import { PROTO_DIR } from '../../src/extproc/proto';
import { encodeStreamedBody, encodeStreamedHeaders } from '../../src/extproc/streamed-response';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
root.loadSync('envoy/service/ext_proc/v3/external_processor.proto', { keepCase: true });
const Response = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
const reference = (object: Record<string, unknown>): Buffer => Buffer.from(Response.encode(Response.fromObject(object)).finish());

t.test('headers_response: :status first, raw_value lines in order, no hop-by-hop or length, end_of_stream when asked', async (t) => {
  const bytes = encodeStreamedHeaders(201, [['content-type', 'text/event-stream'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['transfer-encoding', 'chunked'], ['content-length', '9'], ['x-é', 'caf\u00e9']], false);
  const raw = (value: string) => Buffer.from(value, 'latin1');
  t.same(
    bytes,
    reference({
      streamed_immediate_response: {
        headers_response: {
          headers: {
            headers: [
              { key: ':status', raw_value: raw('201') },
              { key: 'content-type', raw_value: raw('text/event-stream') },
              { key: 'set-cookie', raw_value: raw('a=1') },
              { key: 'set-cookie', raw_value: raw('b=2') },
              { key: 'x-é', raw_value: raw('caf\u00e9') },
            ],
          },
        },
      },
    }),
  );
  const ended = encodeStreamedHeaders(204, [], true);
  t.same(ended, reference({ streamed_immediate_response: { headers_response: { headers: { headers: [{ key: ':status', raw_value: raw('204') }, { key: 'content-type', raw_value: raw('application/octet-stream') }] }, end_of_stream: true } } }));
  const decoded = Response.toObject(Response.decode(ended)) as { streamed_immediate_response: { headers_response: { end_of_stream: boolean } } };
  t.equal(decoded.streamed_immediate_response.headers_response.end_of_stream, true);
});

t.test('body_response: the chunk (any size, varint lengths) and end_of_stream; an empty final message', async (t) => {
  for (const size of [1, 127, 128, 16_383, 16_384, 70_000]) {
    const chunk = Buffer.alloc(size, 7);
    t.same(encodeStreamedBody(chunk, false), reference({ streamed_immediate_response: { body_response: { body: chunk } } }), `${size} bytes`);
  }
  t.same(encodeStreamedBody(Buffer.from('x'), true), reference({ streamed_immediate_response: { body_response: { body: Buffer.from('x'), end_of_stream: true } } }));
  t.same(encodeStreamedBody(Buffer.alloc(0), true), reference({ streamed_immediate_response: { body_response: { end_of_stream: true } } }));
});
