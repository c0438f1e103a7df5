// A loopback Lambda Invoke API that behaves like AWS's: it verifies SigV4,
// answers 200/202/204 by invocation type with Amazon's headers, reports
// function errors in X-Amz-Function-Error, and records every call.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, startFakeServer, type FakeServer } from './http';
import { verifySigV4 } from './sigv4';

export interface Invocation {
  readonly functionName: string;
  readonly qualifier: string | undefined;
  readonly invocationType: string;
  readonly logType: string;
  readonly payload: Buffer;
  readonly accessKeyId: string;
  readonly region: string;
  readonly sessionToken: string | undefined;
  readonly headers: IncomingMessage['headers'];
  json(): unknown;
}

export interface FunctionAnswer {
  /** Function output; defaults to the payload (an echo function). */
  readonly body?: string | Buffer;
  readonly functionError?: 'Unhandled' | 'Handled';
  readonly delayMs?: number;
  /** Answer as the Lambda API itself would fail, e.g. 429 TooManyRequestsException. */
  readonly apiError?: { status: number; type: string; message: string; headers?: Record<string, string> };
  readonly contentType?: string;
  /** Extra response headers. Values are written one byte per character (latin1), as node:http does. */
  readonly headers?: Record<string, string>;
  /**
   * Misbehave on the wire: 'reset' drops the socket, 'truncate' sends half the
   * body, 'chunked' sends the body without Content-Length, 'endless' streams
   * bytes until the client closes the connection (or ENDLESS_CAP_BYTES /
   * ENDLESS_CAP_MS pass, so a test that the client never stops still ends).
   */
  readonly wire?: 'reset' | 'truncate' | 'chunked' | 'endless';
}

/** How one answer went on the wire, for tests that need to see the client hang up. */
export interface AnswerRecord {
  readonly functionName: string;
  /** Body bytes handed to the socket so far. */
  bytesWritten: number;
  /** The connection closed before the fake had written its whole answer: the client hung up on it. */
  cutOff: boolean;
  /** The client closed the connection (FIN or reset), rather than the fake at its keep-alive timeout or shutdown. */
  closedByClient: boolean;
  /** Resolves when the connection that carried the answer has closed. */
  readonly connectionClosed: Promise<void>;
}

/** Bounds of an 'endless' answer: far past any limit the sidecar should have, yet finite. */
export const ENDLESS_CAP_BYTES = 64 * 1024 * 1024;
export const ENDLESS_CAP_MS = 20_000;

export type FunctionBehaviour = (invocation: Invocation) => FunctionAnswer | Promise<FunctionAnswer>;

export interface FakeLambdaOptions {
  /** Access key id → secret key accepted by the signature check. */
  readonly secrets: Record<string, string>;
  readonly functions?: Record<string, FunctionBehaviour>;
}

export interface FakeLambda extends FakeServer {
  readonly invocations: Invocation[];
  readonly rejected: Array<{ code: string; accessKeyId?: string }>;
  /** One record per function answer (200/202/204), in order. */
  readonly answers: AnswerRecord[];
  setFunction(name: string, behaviour: FunctionBehaviour): void;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startFakeLambda(options: FakeLambdaOptions): Promise<FakeLambda> {
  const invocations: Invocation[] = [];
  const rejected: Array<{ code: string; accessKeyId?: string }> = [];
  const answers: AnswerRecord[] = [];
  const functions = new Map(Object.entries(options.functions ?? {}));
  const server = await startFakeServer(async (request, body, response) => {
    const url = request.url ?? '/';
    const verification = verifySigV4({ method: request.method ?? 'GET', url, headers: request.headers, body }, (id) => options.secrets[id]);
    if (!verification.ok) {
      rejected.push({ code: verification.code, ...(verification.accessKeyId === undefined ? {} : { accessKeyId: verification.accessKeyId }) });
      return sendError(response, 403, verification.code, verification.message);
    }
    const [path = '', query = ''] = url.split('?');
    const found = INVOKE_PATH.exec(path);
    if (request.method !== 'POST' || found === null) return sendError(response, 404, 'UnknownOperationException', `unknown operation ${request.method} ${path}`);
    const functionName = decodeURIComponent(found[1] ?? '');
    const invocation: Invocation = {
      functionName,
      qualifier: new URLSearchParams(query).get('Qualifier') ?? undefined,
      invocationType: header(request, 'x-amz-invocation-type') ?? 'RequestResponse',
      logType: header(request, 'x-amz-log-type') ?? 'None',
      payload: body,
      accessKeyId: verification.accessKeyId,
      region: verification.region,
      sessionToken: verification.sessionToken,
      headers: request.headers,
      json: () => JSON.parse(body.toString('utf8')) as unknown,
    };
    invocations.push(invocation);
    const behaviour = functions.get(functionName) ?? functions.get('*');
    if (behaviour === undefined) {
      return sendError(response, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${verification.region}:123456789012:function:${functionName}`);
    }
    const answer = await behaviour(invocation);
    if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (answer.apiError !== undefined) return sendError(response, answer.apiError.status, answer.apiError.type, answer.apiError.message, answer.apiError.headers);
    const requestId = randomUUID();
    const headers: Record<string, string> = {
      'x-amzn-RequestId': requestId,
      'X-Amzn-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
      'X-Amz-Executed-Version': invocation.qualifier ?? '$LATEST',
    };
    if (invocation.logType === 'Tail') headers['X-Amz-Log-Result'] = Buffer.from(`START RequestId: ${requestId}\nEND RequestId: ${requestId}\n`).toString('base64');
    if (answer.functionError !== undefined) headers['X-Amz-Function-Error'] = answer.functionError;
    Object.assign(headers, answer.headers);
    const record = recordAnswer(functionName, response);
    answers.push(record);
    if (invocation.invocationType === 'Event') return send(response, 202, headers, Buffer.alloc(0), answer.wire, record);
    if (invocation.invocationType === 'DryRun') return send(response, 204, headers, Buffer.alloc(0), answer.wire, record);
    const output = answer.body === undefined ? body : Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body, 'utf8');
    headers['Content-Type'] = answer.contentType ?? 'application/json';
    headers['x-amzn-Remapped-Content-Length'] = '0';
    return send(response, 200, headers, output, answer.wire, record);
  });
  return {
    ...server,
    invocations,
    rejected,
    answers,
    setFunction(name, behaviour) {
      functions.set(name, behaviour);
    },
  };
}

// Answers waiting for their keep-alive socket to close: one set of listeners per socket, not per answer.
const socketAnswers = new WeakMap<object, Array<{ record: AnswerRecord; closed: () => void }>>();

function recordAnswer(functionName: string, response: ServerResponse): AnswerRecord {
  let closed: () => void = () => undefined;
  const record: AnswerRecord = { functionName, bytesWritten: 0, cutOff: false, closedByClient: false, connectionClosed: new Promise<void>((resolve) => (closed = resolve)) };
  const socket = response.socket;
  if (socket === null || socket.destroyed) {
    closed();
    return record;
  }
  // The response closes with the socket; unfinished means the bytes never all left.
  response.once('close', () => {
    if (!response.writableFinished) record.cutOff = true;
  });
  const waiting = socketAnswers.get(socket);
  if (waiting !== undefined) {
    waiting.push({ record, closed });
    return record;
  }
  const answers = [{ record, closed }];
  socketAnswers.set(socket, answers);
  let peerClosed = false;
  socket.once('end', () => (peerClosed = true));
  socket.once('error', () => (peerClosed = true));
  socket.once('close', () => {
    for (const answer of answers) {
      answer.record.closedByClient = peerClosed;
      answer.closed();
    }
  });
  return record;
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: Buffer, wire: FunctionAnswer['wire'], record: AnswerRecord): void {
  if (wire === 'reset') {
    response.socket?.destroy();
    return;
  }
  if (wire === 'endless') return sendEndless(response, status, headers, record);
  response.writeHead(status, wire === 'chunked' ? headers : { ...headers, 'Content-Length': String(body.length) });
  if (wire === 'truncate') {
    response.write(body.subarray(0, Math.floor(body.length / 2)));
    record.bytesWritten = Math.floor(body.length / 2);
    response.socket?.destroy();
    return;
  }
  record.bytesWritten = body.length;
  response.end(body);
}

// Chunked bytes as fast as the client reads them, until it hangs up or a cap passes.
function sendEndless(response: ServerResponse, status: number, headers: Record<string, string>, record: AnswerRecord): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const started = Date.now();
  response.writeHead(status, headers);
  const pump = (): void => {
    while (!response.destroyed) {
      if (record.bytesWritten >= ENDLESS_CAP_BYTES || Date.now() - started >= ENDLESS_CAP_MS) {
        response.end();
        return;
      }
      record.bytesWritten += chunk.length;
      if (!response.write(chunk)) {
        response.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

function sendError(response: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(response, status, { Type: 'User', message }, { 'x-amzn-ErrorType': type, 'x-amzn-RequestId': randomUUID(), ...headers });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
