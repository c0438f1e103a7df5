// One function's execution environment for `lambda-extproc dev`: a child
// process that loads the handler file once (Lambda's init phase) and runs one
// invocation at a time with Lambda's event, context and error shape. It lives
// in its own process so that a handler that throws, hangs, exits or fills its
// heap cannot harm the sidecar. Development and tests only.
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';
import { HANDLER_EXPORT, HANDLER_FILE_ENV, type FromChild, type FunctionErrorBody, type InvokeMessage, type ToChild } from './child-messages';

type Callback = (error?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: Record<string, unknown>, callback: Callback) => unknown;

let current: string | undefined;
// Set while a streamed chunk waits for the parent to take it.
let awaitingAck: { readonly id: string; readonly resume: () => void } | undefined;

// Lambda's Node runtime marks a streaming handler with this symbol and value (awslambda.streamifyResponse).
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** The response stream a streaming handler writes to, as Lambda's Node runtime hands it over. */
type ResponseStream = Writable & { setContentType(contentType: string): void };

// The `awslambda` global of Lambda's Node runtime: streamifyResponse and HttpResponseStream.from.
function installAwsLambdaGlobal(): void {
  const streamifyResponse = (handler: Handler): Handler => Object.assign(handler, { [HANDLER_STREAMING]: STREAM_RESPONSE });
  const HttpResponseStream = {
    // The HTTP-integration prelude: JSON {statusCode, headers, cookies}, eight NUL bytes, then the body.
    from(stream: ResponseStream, prelude: Record<string, unknown>): ResponseStream {
      stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude), 'utf8'), Buffer.alloc(8)]));
      return stream;
    },
  };
  (globalThis as Record<string, unknown>).awslambda = { streamifyResponse, HttpResponseStream };
}

function isStreaming(handler: Handler): boolean {
  return (handler as unknown as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE;
}

/** Each write goes to the parent as one chunk; the next write waits until the parent took it. */
function createResponseStream(id: string): { stream: ResponseStream; finished: Promise<void> } {
  let contentType = 'application/octet-stream';
  let typeSent = false;
  const sendType = (): void => {
    if (typeSent) return;
    typeSent = true;
    send({ type: 'content-type', id, contentType });
  };
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sendType();
      awaitingAck = { id, resume: () => callback() };
      send({ type: 'chunk', id, data: chunk.toString('base64') });
    },
    final(callback) {
      sendType();
      callback();
    },
  });
  const stream = Object.assign(writable, {
    setContentType(type: string) {
      if (!typeSent) contentType = type;
    },
  });
  const finished = new Promise<void>((resolve) => stream.once('finish', () => resolve()));
  return { stream, finished };
}

function send(message: FromChild): void {
  process.send?.(message);
}

// Lambda's Node runtime writes console calls as "time<TAB>request id<TAB>LEVEL<TAB>message".
function patchConsole(): void {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' } as const;
  for (const [method, level] of Object.entries(levels)) {
    (console as unknown as Record<string, (...args: unknown[]) => void>)[method] = (...args: unknown[]) => {
      send({ type: 'log', id: current, line: `${new Date().toISOString()}\t${current ?? 'undefined'}\t${level}\t${format(...args)}` });
    };
  }
}

/** Lambda's Node runtime's error shape: name, message and the stack as lines. */
function toErrorBody(error: unknown): FunctionErrorBody {
  if (types.isNativeError(error) || error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

async function loadHandler(file: string): Promise<Handler> {
  // import() reads .mjs and "type": "module" .js as ESM, .cjs and other .js as CommonJS.
  const loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const fromDefault = loaded.default as Record<string, unknown> | undefined;
  const handler = loaded[HANDLER_EXPORT] ?? (typeof fromDefault === 'object' && fromDefault !== null ? fromDefault[HANDLER_EXPORT] : undefined);
  if (typeof handler !== 'function') {
    const error = new Error(`${file} does not export a function named "${HANDLER_EXPORT}"`);
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  return handler as Handler;
}

function runInvocation(handler: Handler, message: InvokeMessage): void {
  current = message.id;
  let settled = false;
  const finish = (error: unknown, result?: unknown): void => {
    if (settled) return;
    settled = true;
    const rssBytes = process.memoryUsage.rss();
    if (error !== undefined && error !== null) {
      send({ type: 'error', id: message.id, error: toErrorBody(error), rssBytes, fatal: false });
      return;
    }
    try {
      // Lambda answers `null` for a handler that returns nothing.
      send({ type: 'result', id: message.id, body: JSON.stringify(result) ?? 'null', rssBytes });
    } catch (serializeError) {
      send({ type: 'error', id: message.id, error: toErrorBody(serializeError), rssBytes, fatal: false });
    }
  };
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  const context: Record<string, unknown> = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: message.id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: message.clientContext,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, message.deadlineMs - Date.now()),
    // The legacy completion methods, still offered by Lambda's Node runtime.
    done: (error?: unknown, result?: unknown) => finish(error, result),
    succeed: (result?: unknown) => finish(undefined, result),
    fail: (error?: unknown) => finish(error ?? new Error('handled')),
  };
  let event: unknown;
  try {
    event = JSON.parse(message.event);
    if (isStreaming(handler)) return runStreaming(handler, event, context, message, finish);
    const returned = handler(event, context, (error, result) => finish(error, result));
    // A promise settles the invocation; otherwise the handler calls back.
    if (returned !== null && typeof returned === 'object' && typeof (returned as { then?: unknown }).then === 'function') {
      (returned as Promise<unknown>).then(
        (result) => finish(undefined, result),
        (error: unknown) => finish(error ?? new Error('rejected without a reason')),
      );
    } else if (handler.length < 3) {
      finish(undefined, returned);
    }
  } catch (error) {
    finish(error);
  }
}

// A streamifyResponse handler: (event, responseStream, context). The invocation ends when the
// handler's promise settles and the stream has finished (ended by the handler, or here after it returned).
function runStreaming(handler: Handler, event: unknown, context: Record<string, unknown>, message: InvokeMessage, finish: (error: unknown) => void): void {
  const { stream, finished } = createResponseStream(message.id);
  const streamingHandler = handler as unknown as (event: unknown, stream: ResponseStream, context: Record<string, unknown>) => unknown;
  Promise.resolve()
    .then(() => streamingHandler(event, stream, context))
    .then(
      async () => {
        if (!stream.writableEnded) stream.end();
        await finished;
        send({ type: 'stream-end', id: message.id, rssBytes: process.memoryUsage.rss() });
      },
      (error: unknown) => finish(error ?? new Error('rejected without a reason')),
    );
}

function fatal(errorType: string, error: unknown): void {
  const body = toErrorBody(error);
  process.stderr.write(`${errorType}: ${body.trace?.join('\n') || body.errorMessage}\n`);
  if (current !== undefined) send({ type: 'error', id: current, error: { ...body, errorType: types.isNativeError(error) ? body.errorType : errorType }, rssBytes: process.memoryUsage.rss(), fatal: true });
  // As Lambda's runtime: the environment is not reused after an uncaught failure.
  setImmediate(() => process.exit(1));
}

async function main(): Promise<void> {
  const file = process.env[HANDLER_FILE_ENV];
  // Without a parent there is nobody to answer; a dead parent must not leave us running.
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (error) => fatal('Runtime.UncaughtException', error));
  process.on('unhandledRejection', (reason) => fatal('Runtime.UnhandledPromiseRejection', reason));
  patchConsole();
  installAwsLambdaGlobal();
  let handler: Handler;
  try {
    if (file === undefined) throw new Error(`${HANDLER_FILE_ENV} is not set`);
    handler = await loadHandler(file);
  } catch (error) {
    const body = toErrorBody(error);
    const errorType = body.errorType.startsWith('Runtime.') ? body.errorType : error instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError';
    send({ type: 'init-error', error: { ...body, errorType, errorMessage: `${body.errorType}: ${body.errorMessage}` } });
    setImmediate(() => process.exit(1));
    return;
  }
  process.on('message', (message: ToChild) => {
    if (message.type === 'invoke') runInvocation(handler, message);
    else if (message.type === 'ack' && awaitingAck?.id === message.id) {
      const { resume } = awaitingAck;
      awaitingAck = undefined;
      resume();
    }
  });
  send({ type: 'ready' });
}

void main();
