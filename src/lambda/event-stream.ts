// Lambda's InvokeWithResponseStream answer is an AWS event stream
// (application/vnd.amazon.eventstream): PayloadChunk events carry the
// function's bytes, one InvokeComplete event ends it. Framing, checksums and
// headers are the AWS SDK's own codec (@smithy/core/event-streams); this file
// only says what each event means.
import { EventStreamCodec, getChunkedStream, type Message } from '@smithy/core/event-streams';
import { LambdaExtprocError } from '../errors';

/** What InvokeComplete said when the function failed. ErrorDetails is function output: it never goes to logs. */
export interface FunctionFailure {
  readonly errorCode: string;
  readonly errorDetails: string;
  readonly logResult: string | undefined;
}

// One codec per process: decode() keeps no state between messages.
const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

/**
 * The function's bytes, in order, as Lambda framed them. Ends normally on an
 * InvokeComplete without ErrorCode; throws `function_error` on one with an
 * ErrorCode (functionFailureOf gives its details), and a plain Error when the
 * framing breaks or the bytes end without InvokeComplete (the caller knows
 * whether that was a cut, a timeout or a cancel). Reads `source` only as the
 * consumer pulls, so a slow consumer slows the reads.
 */
export async function* decodePayloadChunks(source: AsyncIterable<Uint8Array>, functionName: string): AsyncGenerator<Buffer, void, undefined> {
  let complete = false;
  for await (const frame of getChunkedStream(source)) {
    // Read on to the end of the HTTP answer after InvokeComplete, so the connection can be reused.
    if (complete) continue;
    const message = codec.decode(frame);
    const type = stringHeader(message, ':message-type');
    if (type === 'event') {
      const event = stringHeader(message, ':event-type');
      if (event === 'PayloadChunk') {
        // A view into the frame the chunker allocated for this message alone: no copy.
        if (message.body.byteLength > 0) yield Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
        continue;
      }
      if (event === 'InvokeComplete') {
        const failure = parseComplete(message.body);
        if (failure !== undefined) throw functionError(functionName, failure);
        complete = true;
        continue;
      }
      // An event type added after this was written carries nothing we must act on.
      continue;
    }
    // 'exception' (a modelled service error) or 'error': the stream failed on Lambda's side.
    const code = stringHeader(message, ':exception-type') ?? stringHeader(message, ':error-code') ?? 'UnknownError';
    const text = stringHeader(message, ':error-message') ?? Buffer.from(message.body).toString('utf8').slice(0, 200);
    throw new Error(`Lambda reported ${code} in the response stream: ${text}`);
  }
  if (!complete) throw new Error('the response stream ended without InvokeComplete');
}

/** The InvokeComplete details behind a `function_error`, if that is what the error is. */
export function functionFailureOf(error: unknown): FunctionFailure | undefined {
  if (!(error instanceof LambdaExtprocError) || error.kind !== 'function_error') return undefined;
  const cause = error.cause;
  return typeof cause === 'object' && cause !== null && 'errorCode' in cause ? (cause as FunctionFailure) : undefined;
}

function functionError(functionName: string, failure: FunctionFailure): LambdaExtprocError {
  // The code is AWS's (Unhandled, Handled, Sandbox.Timedout…); the details stay out of the message.
  return new LambdaExtprocError('function_error', `Lambda ${functionName}: the function failed while streaming (${failure.errorCode})`, { awsCode: failure.errorCode }, { cause: failure });
}

function parseComplete(body: Uint8Array): FunctionFailure | undefined {
  let parsed: unknown = {};
  try {
    parsed = body.byteLength === 0 ? {} : JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw new Error('InvokeComplete carried a body that is not JSON');
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const errorCode = typeof fields.ErrorCode === 'string' ? fields.ErrorCode : '';
  if (errorCode === '') return undefined;
  return {
    errorCode,
    errorDetails: typeof fields.ErrorDetails === 'string' ? fields.ErrorDetails : '',
    logResult: typeof fields.LogResult === 'string' ? fields.LogResult : undefined,
  };
}

function stringHeader(message: Message, name: string): string | undefined {
  const header = message.headers[name];
  return header?.type === 'string' ? header.value : undefined;
}
