// A Lambda response stream → the client's response, in one of the two shapes
// the ext_proc side knows how to send: a whole HttpResponse (nothing streamed
// yet, so it can still be one ImmediateResponse) or a status/headers value
// with the chunks still to come. Everything that can fail before the first
// payload byte fails here, where it can still become a plain answer.
import { LambdaExtprocError } from '../errors';
import { headerValue, type HeaderList, type HttpResponse, type StreamStart } from '../http';
import { functionFailureOf } from './event-stream';
import { continueWith, HTTP_INTEGRATION_CONTENT_TYPE, readPrelude } from './http-integration-prelude';
import { passThroughHeaders, toClientResponse, type OutputOptions } from './output';
import type { LambdaStream } from './stream-invoke';

/**
 * Waits for the first payload byte. A stream that ends (or whose function
 * fails) before it is answered whole, exactly as the buffered route answers
 * the same outcome; failures before it throw the buffered path's kinds.
 */
export async function startStreamedResponse(stream: LambdaStream, options: OutputOptions): Promise<StreamStart> {
  const lambdaHeaders = passThroughHeaders(stream.headers);
  let status = stream.status;
  let headers: HeaderList = lambdaHeaders;
  let chunks = stream.chunks;
  try {
    const contentType = headerValue(stream.headers, 'content-type')?.toLowerCase() ?? '';
    // As function URLs do: the prelude is read when the function declared it, other streams pass through.
    if (options.is_proxy_integration && contentType.startsWith(HTTP_INTEGRATION_CONTENT_TYPE)) {
      const preluded = await readPrelude(chunks);
      status = preluded.head.status;
      const named = new Set(preluded.head.headers.map(([name]) => name));
      // The function's headers replace Lambda's of the same name; Lambda's content-type names the framing, not the body.
      headers = [...lambdaHeaders.filter(([name]) => name !== 'content-type' && !named.has(name)), ...preluded.head.headers];
      chunks = preluded.body;
    }
    const iterator = chunks[Symbol.asyncIterator]();
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return { kind: 'whole', response: { status, headers, body: Buffer.alloc(0) } };
      if (next.value.length === 0) continue;
      return { kind: 'stream', response: { status, headers, chunks: continueWith(next.value, iterator) } };
    }
  } catch (error) {
    // A bad prelude leaves the stream unread: close it (and its connection and timer) now.
    await stream.chunks[Symbol.asyncIterator]().return?.();
    const failure = functionFailureOf(error);
    if (failure === undefined) throw error;
    // Nothing was streamed: the buffered answer to the same function error (X-Amz-Function-Error, unhandled_status, proxy checks).
    // Lambda's Invoke answers a function error with its JSON error document as application/json.
    const errorHeaders: HeaderList = [...stream.headers.filter(([name]) => name !== 'content-type'), ['content-type', 'application/json'], ['x-amz-function-error', failure.errorCode]];
    const result = { status: stream.status, headers: errorHeaders, body: Buffer.from(failure.errorDetails, 'utf8') };
    return { kind: 'whole', response: toClientResponse(result, options) };
  }
}

/**
 * The fallback when Envoy cannot take a streamed answer (BUFFERED body mode,
 * or an Envoy that sends no protocol_config): the rest of the stream read into
 * one HttpResponse, at most `limit` body bytes (past it: lambda_response_too_large,
 * and the Lambda connection is closed).
 */
export async function collectStreamedResponse(start: StreamStart, limit: number, functionName: string): Promise<HttpResponse> {
  if (start.kind === 'whole') return start.response;
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of start.response.chunks) {
    length += chunk.length;
    if (length > limit) {
      // Leaving the loop closes the stream (and its connection).
      throw new LambdaExtprocError('lambda_response_too_large', `Lambda ${functionName}: streamed response passed ${limit} bytes, over what one answer to Envoy can carry`);
    }
    parts.push(chunk);
  }
  return { status: start.response.status, headers: start.response.headers, body: Buffer.concat(parts, length) };
}
