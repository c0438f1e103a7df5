// A loopback InvokeWithResponseStream: verifies SigV4 like the Lambda fake,
// then lets a test's function write PayloadChunk events in AWS's event-stream
// framing (encoded with the SDK's own codec), pause, fail through
// InvokeComplete, cut the connection or hang. Mount it in another fake with
// createStreamingInvokeHandler, or run it alone with startFakeStreamingLambda.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';
import { sendJson, startFakeServer, type FakeServer } from './http';
import { verifySigV4 } from './sigv4';

export const STREAM_PATH = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations$/;

export interface StreamInvocation {
  readonly functionName: string;
  readonly qualifier: string | undefined;
  readonly invocationType: string;
  readonly logType: string;
  readonly payload: Buffer;
  readonly accessKeyId: string;
  readonly region: string;
  readonly headers: IncomingMessage['headers'];
}

/** What a streaming function can do to its response. */
export interface StreamWriter {
  /** One PayloadChunk event; resolves once the socket took it (waits for 'drain' like a real server). */
  write(bytes: string | Buffer): Promise<void>;
  /** InvokeComplete without an error, then the end of the HTTP answer. */
  end(): void;
  /** InvokeComplete with ErrorCode/ErrorDetails (Lambda's way to report a failed function), then the end. */
  fail(errorCode: string, errorDetails: string): void;
  /** Drops the connection mid-answer. */
  cut(): void;
  /** Resolves when the client closed the connection (or it ended). */
  readonly closed: Promise<void>;
  /** Payload bytes handed to the socket so far (frames excluded). */
  readonly bytesWritten: number;
}

export interface StreamingFunction {
  /** The function's stream content type (Lambda's Content-Type header). */
  readonly contentType?: string;
  /** Fail as the Lambda API would, before any stream: e.g. 429 TooManyRequestsException. */
  readonly apiError?: { status: number; type: string; message: string; headers?: Record<string, string> };
  /** Writes the response; leaving without end/fail/cut ends it cleanly. Never settling is a hang. */
  run?(writer: StreamWriter, invocation: StreamInvocation): void | Promise<void>;
}

export interface StreamingLambdaOptions {
  readonly secrets: Record<string, string>;
  readonly functions: Record<string, StreamingFunction | ((invocation: StreamInvocation) => StreamingFunction)>;
}

export interface StreamingInvokeHandler {
  /** Serves the request if its path is the streaming one; false leaves it to the caller. */
  (request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<boolean>;
  readonly invocations: StreamInvocation[];
  readonly rejected: string[];
}

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

const str = (value: string) => ({ type: 'string' as const, value });

export function encodeEvent(eventType: string, body: Buffer, contentType = 'application/octet-stream'): Buffer {
  const headers: MessageHeaders = { ':event-type': str(eventType), ':content-type': str(contentType), ':message-type': str('event') };
  return Buffer.from(codec.encode({ headers, body }));
}

export function payloadChunk(bytes: Buffer): Buffer {
  return encodeEvent('PayloadChunk', bytes);
}

export function invokeComplete(fields: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string } = {}): Buffer {
  return encodeEvent('InvokeComplete', Buffer.from(JSON.stringify(fields)), 'application/json');
}

/** Lambda's HTTP-integration prelude, as HttpResponseStream.from writes it. */
export function httpIntegrationPrelude(prelude: { statusCode?: number; headers?: Record<string, string>; cookies?: string[] }): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(prelude), 'utf8'), Buffer.alloc(8)]);
}

export function createStreamingInvokeHandler(options: StreamingLambdaOptions): StreamingInvokeHandler {
  const invocations: StreamInvocation[] = [];
  const rejected: string[] = [];
  const handler = async (request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<boolean> => {
    const url = request.url ?? '/';
    const [path = '', query = ''] = url.split('?');
    const found = STREAM_PATH.exec(path);
    if (found === null || request.method !== 'POST') return false;
    const verification = verifySigV4({ method: 'POST', url, headers: request.headers, body }, (id) => options.secrets[id]);
    if (!verification.ok) {
      rejected.push(verification.code);
      sendError(response, 403, verification.code, verification.message);
      return true;
    }
    const functionName = decodeURIComponent(found[1] ?? '');
    const invocation: StreamInvocation = {
      functionName,
      qualifier: new URLSearchParams(query).get('Qualifier') ?? undefined,
      invocationType: headerOf(request, 'x-amz-invocation-type') ?? 'RequestResponse',
      logType: headerOf(request, 'x-amz-log-type') ?? 'None',
      payload: body,
      accessKeyId: verification.accessKeyId,
      region: verification.region,
      headers: request.headers,
    };
    invocations.push(invocation);
    const entry = options.functions[functionName];
    if (entry === undefined) {
      sendError(response, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${verification.region}:123456789012:function:${functionName}`);
      return true;
    }
    const fn = typeof entry === 'function' ? entry(invocation) : entry;
    if (fn.apiError !== undefined) {
      sendError(response, fn.apiError.status, fn.apiError.type, fn.apiError.message, fn.apiError.headers);
      return true;
    }
    await serveStream(response, fn, invocation);
    return true;
  };
  return Object.assign(handler, { invocations, rejected });
}

export interface FakeStreamingLambda extends FakeServer {
  readonly invocations: StreamInvocation[];
  readonly rejected: string[];
}

export async function startFakeStreamingLambda(options: StreamingLambdaOptions): Promise<FakeStreamingLambda> {
  const handle = createStreamingInvokeHandler(options);
  const server = await startFakeServer(async (request, body, response) => {
    if (!(await handle(request, body, response))) sendError(response, 404, 'UnknownOperationException', `unknown operation ${request.method} ${request.url}`);
  });
  return { url: server.url, port: server.port, close: server.close, invocations: handle.invocations, rejected: handle.rejected };
}

async function serveStream(response: ServerResponse, fn: StreamingFunction, invocation: StreamInvocation): Promise<void> {
  const requestId = randomUUID();
  // No Content-Length: the answer goes out chunked, as Lambda's does.
  response.writeHead(200, {
    'Content-Type': fn.contentType ?? 'application/octet-stream',
    'x-amzn-RequestId': requestId,
    'X-Amzn-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
    'X-Amz-Executed-Version': invocation.qualifier ?? '$LATEST',
  });
  response.flushHeaders();
  let finished = false;
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  response.once('close', () => closedResolve());
  const writer = {
    bytesWritten: 0,
    closed,
    async write(bytes: string | Buffer): Promise<void> {
      if (finished || response.destroyed) throw new Error('the client closed the connection');
      const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
      writer.bytesWritten += data.length;
      if (!response.write(payloadChunk(data))) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            response.off('close', onClose);
            resolve();
          };
          const onClose = (): void => {
            response.off('drain', onDrain);
            reject(new Error('the client closed the connection'));
          };
          response.once('drain', onDrain);
          response.once('close', onClose);
        });
      }
    },
    end(): void {
      if (finished) return;
      finished = true;
      response.end(invokeComplete(invocation.logType === 'Tail' ? { LogResult: Buffer.from('END').toString('base64') } : {}));
    },
    fail(errorCode: string, errorDetails: string): void {
      if (finished) return;
      finished = true;
      response.end(invokeComplete({ ErrorCode: errorCode, ErrorDetails: errorDetails }));
    },
    cut(): void {
      finished = true;
      response.socket?.destroy();
    },
  };
  try {
    await fn.run?.(writer, invocation);
    writer.end();
  } catch {
    // The client went away mid-write: nothing left to answer.
    finished = true;
  }
}

function sendError(response: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(response, status, { Type: 'User', message }, { 'x-amzn-ErrorType': type, 'x-amzn-RequestId': randomUUID(), ...headers });
}

function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
