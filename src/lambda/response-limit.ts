// The most we read of one answer from the Lambda endpoint, on both invoke
// paths. Lambda's synchronous Invoke returns at most 6 MiB of function output
// (bigger output is Lambda's own error answer, not a bigger body), and its
// error documents are small; the 256 KiB on top is headroom for those and a
// margin. Only an endpoint that is not Lambda (a wrong host or proxy_url, a
// broken emulator streaming without end) can pass it: we stop reading there,
// close that connection, and answer 502 instead of buffering without bound.
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Readable } from 'node:stream';
import { LambdaExtprocError } from '../errors';

export const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024 + 256 * 1024;

/** The error both paths answer with: 502 Bad Gateway, cause lambda_response_too_large. */
export function responseTooLarge(functionName: string, how: string): LambdaExtprocError {
  return new LambdaExtprocError('lambda_response_too_large', `Lambda ${functionName}: response ${how}, over the ${LAMBDA_RESPONSE_LIMIT}-byte limit; the connection was closed`);
}

/** A Content-Length that announces more than the limit (absent or unreadable: no). */
export function announcesTooMuch(contentLength: string | string[] | undefined): boolean {
  const value = Array.isArray(contentLength) ? contentLength[0] : contentLength;
  return value !== undefined && Number(value) > LAMBDA_RESPONSE_LIMIT;
}

interface SdkHttpResponse {
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * The SDK path (proxy_url routes): the node-http-handler hands the deserializer
 * the socket's response stream, and the SDK's stream collector reads all of it.
 * This deserialize-step middleware runs inside the deserializer (priority low),
 * reads the body itself with the limit, and hands the deserializer the bytes
 * (collectBody takes a Uint8Array as it is). Past the limit the stream is
 * destroyed, which closes its socket.
 */
export function limitResponseBody(client: LambdaClient): void {
  client.middlewareStack.add(
    (next, _context) => async (args) => {
      const result = await next(args);
      const response = result.response as SdkHttpResponse | undefined;
      const body = response?.body;
      if (response !== undefined && isReadable(body)) {
        const input = args.input as { FunctionName?: unknown } | undefined;
        const name = typeof input?.FunctionName === 'string' ? input.FunctionName : 'function';
        response.body = await readLimited(body, response.headers?.['content-length'], name);
      }
      return result;
    },
    { step: 'deserialize', name: 'lambdaExtprocResponseLimit', priority: 'low' },
  );
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).on === 'function' && typeof (value as Readable).destroy === 'function' && Symbol.asyncIterator in value;
}

async function readLimited(stream: Readable, contentLength: string | undefined, functionName: string): Promise<Buffer> {
  if (announcesTooMuch(contentLength)) {
    stream.destroy();
    throw responseTooLarge(functionName, `announced Content-Length ${contentLength}`);
  }
  const chunks: Buffer[] = [];
  let received = 0;
  // Ends with the stream; an error or premature close (abort, timeout, reset) rejects.
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > LAMBDA_RESPONSE_LIMIT) {
      stream.destroy();
      throw responseTooLarge(functionName, `body passed ${LAMBDA_RESPONSE_LIMIT} bytes`);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
}
