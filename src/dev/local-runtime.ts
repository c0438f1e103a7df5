// A local Lambda for `lambda-extproc dev`, for development and tests only: it
// serves Lambda's Invoke API (the request the sidecar signs and sends) on
// 127.0.0.1 and runs each function's handler file in its own child process
// (handler-host.ts). Like AWS's Runtime Interface Emulator it does not verify
// signatures, but it does require a SigV4 Authorization header scoped to
// "lambda": real Lambda refuses an unsigned request, so dev must too, and a
// web page in a browser cannot send that header without a CORS preflight,
// which this server never grants.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';
import { createHandlerHost, type HandlerHost, type LocalFunction, type ResponseSink } from './handler-host';

export interface LocalRuntimeOptions {
  /** 127.0.0.1:PORT (port 0: any free port); any other host is refused. */
  readonly listen: string;
  readonly functions: readonly LocalFunction[];
  /** A line of a function's output, or its START/END/REPORT line. */
  readonly onLine: (functionName: string, line: string) => void;
  /** The child script (tests); see handler-host.ts. */
  readonly childScript?: string;
}

export interface LocalRuntime {
  readonly port: number;
  close(): Promise<void>;
}

// Lambda's limits: invocation payloads, and the synchronous response.
const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
const MAX_EVENT_PAYLOAD = 1024 * 1024;
const MAX_RESPONSE = 6_291_556;
// Invocations queued per function before answering 429, as a concurrency limit would.
const MAX_PENDING = 100;
const LOG_TAIL_BYTES = 4096;
const ACCOUNT = '000000000000';
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
// InvokeWithResponseStream: the answer is an AWS event stream of PayloadChunk events and one InvokeComplete.
const STREAM_PATH = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations$/;
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=[^/\s]+\/\d{8}\/([^/\s]+)\/([^/\s]+)\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$/;
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost)(:\d+)?$/i;

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { host, port } = loopbackAddress(options.listen);
  const hosts = new Map<string, HandlerHost>(
    options.functions.map((fn) => [fn.name, createHandlerHost(fn, { onLine: (line) => options.onLine(fn.name, line), ...(options.childScript === undefined ? {} : { childScript: options.childScript }) })]),
  );
  const server = createServer((request, response) => {
    handleRequest(request, response, hosts).catch(() => {
      if (!response.headersSent) sendError(response, 500, 'ServiceException', 'the local Lambda runtime failed to answer');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...hosts.values()].map((h) => h.close()));
    },
  };
}

/** Refuses any address but 127.0.0.1: the runtime runs code on request and must stay on loopback. */
export function loopbackAddress(listen: string): { host: string; port: number } {
  const found = /^127\.0\.0\.1:(\d{1,5})$/.exec(listen);
  const port = Number(found?.[1]);
  if (found === null || port > 65535) throw new Error(`the local Lambda runtime listens on 127.0.0.1:PORT only, for development and tests (got "${listen}")`);
  return { host: '127.0.0.1', port };
}

async function handleRequest(request: IncomingMessage, response: ServerResponse, hosts: ReadonlyMap<string, HandlerHost>): Promise<void> {
  // Bound to 127.0.0.1, so only loopback peers connect; the Host check stops DNS rebinding from a browser.
  if (!LOOPBACK_HOST.test(request.headers.host ?? '')) return sendError(response, 403, 'AccessDeniedException', 'the local Lambda runtime answers loopback host names only');
  const authorization = request.headers.authorization;
  if (authorization === undefined) return sendError(response, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const scope = AUTHORIZATION.exec(authorization);
  if (scope === null) return sendError(response, 403, 'IncompleteSignatureException', 'Authorization header is not a well-formed AWS Signature Version 4');
  const region = scope[1] ?? '';
  if (scope[2] !== 'lambda') return sendError(response, 403, 'InvalidSignatureException', "Credential should be scoped to correct service: 'lambda'.");
  const [path = '', query = ''] = (request.url ?? '/').split('?');
  const streamFound = STREAM_PATH.exec(path);
  const found = streamFound ?? INVOKE_PATH.exec(path);
  if (request.method !== 'POST' || found === null) return sendError(response, 404, 'UnknownOperationException', `the local Lambda runtime serves Invoke and InvokeWithResponseStream only (got ${request.method} ${path})`);
  const named = parseFunctionName(decodeURIComponent(found[1] ?? ''));
  const qualifier = new URLSearchParams(query).get('Qualifier') ?? named.qualifier;
  const arn = `arn:aws:lambda:${region}:${ACCOUNT}:function:${named.name}${qualifier === undefined ? '' : `:${qualifier}`}`;
  const host = hosts.get(named.name);
  if (host === undefined) return sendError(response, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
  const invocationType = headerOf(request, 'x-amz-invocation-type') ?? 'RequestResponse';
  const allowed = streamFound === null ? ['Event', 'RequestResponse', 'DryRun'] : ['RequestResponse', 'DryRun'];
  if (!allowed.includes(invocationType)) {
    return sendError(response, 400, 'ValidationException', `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
  const logType = headerOf(request, 'x-amz-log-type') ?? 'None';
  if (logType !== 'None' && logType !== 'Tail') {
    return sendError(response, 400, 'ValidationException', `1 validation error detected: Value '${logType}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]`);
  }
  const limit = invocationType === 'Event' ? MAX_EVENT_PAYLOAD : MAX_SYNC_PAYLOAD;
  const body = await readBody(request, limit);
  if (body === undefined) return sendError(response, 413, 'RequestEntityTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
  const event = body.length === 0 ? '{}' : body.toString('utf8');
  if (!isJson(event)) return sendError(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json: the payload is not valid JSON');
  const clientContextHeader = headerOf(request, 'x-amz-client-context');
  const clientContext = clientContextHeader === undefined ? undefined : parseClientContext(clientContextHeader);
  if (clientContext === INVALID) return sendError(response, 400, 'InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object.');
  const requestId = randomUUID();
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'x-amzn-RequestId': requestId,
    'X-Amzn-Trace-Id': headerOf(request, 'x-amzn-trace-id') ?? `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Sampled=0`,
    'X-Amz-Executed-Version': '$LATEST',
  };
  if (invocationType === 'DryRun') return send(response, 204, headers, Buffer.alloc(0));
  if (host.pending() >= MAX_PENDING) return sendError(response, 429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: 'ConcurrentInvocationLimitExceeded' });
  if (streamFound !== null) return streamInvocation(response, host, { id: requestId, event, invokedFunctionArn: arn, clientContext, region }, headers, logType === 'Tail');
  const outcome = host.invoke({ id: requestId, event, invokedFunctionArn: arn, clientContext, region });
  // Event: accepted now, run in the background; its output appears in the terminal only.
  if (invocationType === 'Event') return send(response, 202, headers, Buffer.alloc(0));
  const result = await outcome;
  let output = result.body;
  let functionError = result.functionError;
  if (output.length > MAX_RESPONSE) {
    output = Buffer.from(JSON.stringify({ errorType: 'Function.ResponseSizeTooLarge', errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE} bytes).` }));
    functionError = 'Unhandled';
  }
  headers['x-amzn-Remapped-Content-Length'] = '0';
  if (functionError !== undefined) headers['X-Amz-Function-Error'] = functionError;
  if (logType === 'Tail') headers['X-Amz-Log-Result'] = tailOf(result.log);
  send(response, 200, headers, output);
}

/**
 * InvokeWithResponseStream: Lambda's status and headers (Content-Type the
 * stream's) at the handler's first write, a PayloadChunk event per write as
 * it is made, then InvokeComplete (with ErrorCode and ErrorDetails when the
 * function failed). A handler that does not stream sends its result as one
 * chunk, as Lambda does. A slow reader holds the handler's next write back.
 */
async function streamInvocation(response: ServerResponse, host: HandlerHost, invocation: Omit<Parameters<HandlerHost['invoke']>[0], 'sink'>, headers: Record<string, string>, tail: boolean): Promise<void> {
  let contentType = 'application/octet-stream';
  const begin = (): void => {
    if (!response.headersSent) response.writeHead(200, { ...headers, 'Content-Type': contentType });
  };
  const sink: ResponseSink = {
    contentType(type) {
      contentType = type;
    },
    chunk(bytes) {
      begin();
      if (bytes.length === 0 || response.destroyed) return response.destroyed ? Promise.reject(new Error('the client went away')) : Promise.resolve();
      if (response.write(frame('PayloadChunk', bytes))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          response.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          response.off('drain', onDrain);
          reject(new Error('the client went away'));
        };
        response.once('drain', onDrain);
        response.once('close', onClose);
      });
    },
  };
  const result = await host.invoke({ ...invocation, sink });
  if (response.destroyed) return;
  if (result.streamed !== true && result.functionError === undefined) {
    contentType = 'application/json';
    begin();
    response.write(frame('PayloadChunk', result.body));
  }
  begin();
  const complete: Record<string, string> = result.functionError === undefined ? {} : { ErrorCode: result.functionError, ErrorDetails: result.body.toString('utf8') };
  if (tail) complete.LogResult = tailOf(result.log);
  response.end(frame('InvokeComplete', Buffer.from(JSON.stringify(complete), 'utf8'), 'application/json'));
}

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function frame(eventType: string, body: Buffer, contentType = 'application/octet-stream'): Buffer {
  const str = (value: string) => ({ type: 'string' as const, value });
  const messageHeaders: MessageHeaders = { ':event-type': str(eventType), ':content-type': str(contentType), ':message-type': str('event') };
  const encoded = codec.encode({ headers: messageHeaders, body });
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** A function name as Lambda accepts it: name, name:qualifier, or a full ARN. */
export function parseFunctionName(value: string): { name: string; qualifier: string | undefined } {
  const parts = value.split(':');
  const at = parts.indexOf('function');
  const rest = value.startsWith('arn:') && at >= 0 ? parts.slice(at + 1) : parts;
  return { name: rest[0] ?? '', qualifier: rest[1] };
}

// The last 4 KB of the invocation's log, base64, as X-Amz-Log-Result carries it.
function tailOf(log: string): string {
  const bytes = Buffer.from(log, 'utf8');
  return bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)).toString('base64');
}

const INVALID = Symbol('invalid client context');

function parseClientContext(header: string): unknown {
  try {
    const value: unknown = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
    return value !== null && typeof value === 'object' ? value : INVALID;
  } catch {
    return INVALID;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  if (response.destroyed) return;
  response.writeHead(status, { ...headers, 'Content-Length': String(body.length) });
  response.end(body);
}

// Lambda's API errors: the code in x-amzn-ErrorType and the body, a message beside it.
function sendError(response: ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}): void {
  const body = Buffer.from(JSON.stringify({ Type: 'User', message, ...extra }), 'utf8');
  send(response, status, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': type, 'x-amzn-RequestId': randomUUID() }, body);
}
