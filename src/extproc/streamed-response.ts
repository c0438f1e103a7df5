// The second way to answer Envoy (≥ 1.37): ProcessingResponse.streamed_immediate_response,
// headers at the first payload byte, then one body message per chunk as it
// arrives, the last with end_of_stream. Written straight to protobuf bytes
// (the Process serializer passes Buffers through, see proto.ts): a chunk is
// copied once, into its message.
//
// Field numbers (external_processor.proto, Envoy 1.37): ProcessingResponse
// .streamed_immediate_response 11; StreamedImmediateResponse headers_response 1,
// body_response 2; HttpHeaders headers 1, end_of_stream 3; StreamedBodyResponse
// body 1, end_of_stream 2; config.core.v3 HeaderMap headers 1, HeaderValue key 1, raw_value 3.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { toLambdaExtprocError, type LambdaExtprocError } from '../errors';
import type { HeaderList } from '../http';
import { closedByEnvoy, type ProcessCall } from './call';
import { varintLength, type EncodedProcessingResponse } from './encode-immediate';
import { toSetHeaders } from './headers';

/** What is streamed: status and headers, then the function's bytes (stream-output.ts makes it). */
export interface StreamedSource {
  readonly status: number;
  readonly headers: HeaderList;
  readonly chunks: AsyncIterable<Buffer>;
}

/** The part of a Process call (call.ts) the writer uses. */
export type StreamSink = Pick<ProcessCall, 'write' | 'whenWritable' | 'end' | 'fail' | 'closed'>;

export interface StreamedOutcome {
  /** Envoy has the headers: a failure now can only reset the client's response. */
  readonly headersSent: boolean;
  /** Payload bytes and body messages written. */
  readonly bytes: number;
  readonly messages: number;
  /** Absent when the response went out whole and the call ended OK. */
  readonly error?: LambdaExtprocError;
}

const tag = (field: number, wireType: number): number => (field << 3) | wireType;
const LENGTH_DELIMITED = 2;
const VARINT = 0;
const EMPTY = Buffer.alloc(0);

/** streamed_immediate_response.headers_response: ":status" first, then the headers as raw_value lines. */
export function encodeStreamedHeaders(status: number, headers: HeaderList, endOfStream: boolean): EncodedProcessingResponse {
  const lines: Array<readonly [string, string]> = [[':status', String(status)]];
  // The same filter as the ImmediateResponse (no hop-by-hop, length or host); a HeaderMap has no append flag: repeated names are repeated lines.
  for (const header of toSetHeaders(headers)) lines.push([header.name, header.value]);
  // Envoy would label the body text/plain; say what the function's bytes are.
  if (!lines.some(([name]) => name === 'content-type')) lines.push(['content-type', 'application/octet-stream']);
  const values = lines.map(([name, value]) => field(1, Buffer.concat([field(1, Buffer.from(name, 'utf8')), field(3, Buffer.from(value, 'latin1'))])));
  const httpHeaders = Buffer.concat([field(1, Buffer.concat(values)), endOfStream ? Buffer.from([tag(3, VARINT), 1]) : EMPTY]);
  return field(11, field(1, httpHeaders)) as EncodedProcessingResponse;
}

/** streamed_immediate_response.body_response: one chunk, copied once into its message. */
export function encodeStreamedBody(chunk: Buffer, endOfStream: boolean): EncodedProcessingResponse {
  const bodyField = chunk.length === 0 ? 0 : 1 + varintLength(chunk.length) + chunk.length;
  const bodyResponse = bodyField + (endOfStream ? 2 : 0);
  const streamed = 1 + varintLength(bodyResponse) + bodyResponse;
  const out = Buffer.allocUnsafe(1 + varintLength(streamed) + streamed);
  let at = 0;
  at = writeHead(out, at, 11, streamed);
  at = writeHead(out, at, 2, bodyResponse);
  if (chunk.length > 0) {
    at = writeHead(out, at, 1, chunk.length);
    at += chunk.copy(out, at);
  }
  if (endOfStream) {
    out[at++] = tag(2, VARINT);
    out[at++] = 1;
  }
  return out as EncodedProcessingResponse;
}

/**
 * Streams `source` to Envoy: headers at the first payload byte, one body
 * message per chunk, then an empty body message with end_of_stream and the
 * call ends OK. Waits whenever grpc-js's buffer is full, and pulls
 * the next chunk only after that, so Lambda is read no faster than Envoy takes
 * the bytes. On a failure before the headers nothing has been written and the
 * caller answers with an ImmediateResponse; after them the call ends with a
 * non-OK status (never end_of_stream), so Envoy resets the client's response
 * instead of passing a truncated body as complete.
 */
export async function writeStreamedResponse(sink: StreamSink, source: StreamedSource): Promise<StreamedOutcome> {
  let headersSent = false;
  let bytes = 0;
  let messages = 0;
  try {
    for await (const chunk of source.chunks) {
      if (chunk.length === 0) continue;
      if (!headersSent) {
        await send(sink, encodeStreamedHeaders(source.status, source.headers, false));
        headersSent = true;
      }
      await send(sink, encodeStreamedBody(chunk, false));
      bytes += chunk.length;
      messages++;
    }
    if (headersSent) {
      await send(sink, encodeStreamedBody(EMPTY, true));
      messages++;
    } else {
      // Nothing to stream: the headers end the response.
      await send(sink, encodeStreamedHeaders(source.status, source.headers, true));
      headersSent = true;
    }
    sink.end();
    return { headersSent, bytes, messages };
  } catch (thrown) {
    const error = toLambdaExtprocError(thrown);
    if (headersSent) sink.fail(GrpcStatus.UNAVAILABLE, `lambda-extproc: response stream failed after ${bytes} bytes (${error.kind})`);
    return { headersSent, bytes, messages, error };
  }
}

// One message; if grpc-js's buffer is full, wait until it is written or the call closes.
async function send(sink: StreamSink, message: EncodedProcessingResponse): Promise<void> {
  if (sink.closed) throw closedByEnvoy();
  if (!sink.write(message)) await sink.whenWritable();
}

function field(number: number, content: Buffer): Buffer {
  const head = Buffer.allocUnsafe(1 + varintLength(content.length));
  writeHead(head, 0, number, content.length);
  return Buffer.concat([head, content]);
}

// Tag (field numbers below 16: one byte) and length prefix.
function writeHead(out: Buffer, at: number, number: number, length: number): number {
  out[at++] = tag(number, LENGTH_DELIMITED);
  let value = length;
  while (value > 0x7f) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}
