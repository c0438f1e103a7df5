// One Lambda Invoke: one attempt, bounded by the route's timeout and by the
// caller's signal (Envoy cancelled the stream). Every failure comes out as a
// typed LambdaExtprocError.
import { InvokeCommand, type InvokeCommandInput, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaExtprocError } from '../errors';
import { headerTextFromLatin1 } from '../header-text';
import type { HeaderList } from '../http';
import { rawHeadersOf } from './raw-headers';

export interface InvokeTarget {
  readonly functionName: string;
  readonly qualifier: string | undefined;
  readonly invocationType: 'RequestResponse' | 'Event' | 'DryRun';
  readonly logType: 'Tail' | 'None';
  /** Milliseconds for the whole call, connect to last byte. */
  readonly timeout: number;
}

export interface LambdaResult {
  /** Lambda's HTTP status: 200 RequestResponse, 202 Event, 204 DryRun. */
  readonly status: number;
  /** Lambda's raw response headers, lower-case names. */
  readonly headers: HeaderList;
  readonly body: Buffer;
}

export async function invokeLambda(client: LambdaClient, target: InvokeTarget, payload: Uint8Array, signal: AbortSignal): Promise<LambdaResult> {
  const input: InvokeCommandInput = {
    FunctionName: target.functionName,
    InvocationType: target.invocationType,
    LogType: target.logType,
    Payload: payload,
    ...(target.qualifier === undefined ? {} : { Qualifier: target.qualifier }),
  };
  const timeout = AbortSignal.timeout(target.timeout);
  let output: InvokeCommandOutput;
  try {
    output = await client.send(new InvokeCommand(input), { abortSignal: AbortSignal.any([signal, timeout]) });
  } catch (error) {
    throw classifyInvokeError(error, target, timeout.aborted, signal.aborted);
  }
  const raw = rawHeadersOf(input) ?? {};
  const payloadBytes = output.Payload;
  const body = payloadBytes == null ? Buffer.alloc(0) : Buffer.from(payloadBytes.buffer, payloadBytes.byteOffset, payloadBytes.byteLength);
  // node:http's latin1 text → the UTF-8 reading of the same bytes, as on the lean path.
  const headers: Array<readonly [string, string]> = [];
  for (const name in raw) headers.push([name, headerTextFromLatin1(raw[name] as string)]);
  return { status: output.StatusCode ?? 200, headers, body };
}

export interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly statusCode?: number; readonly headers?: Record<string, string> };
}

export function classifyInvokeError(error: unknown, target: InvokeTarget, timedOut: boolean, cancelled: boolean): LambdaExtprocError {
  if (error instanceof LambdaExtprocError) return error;
  if (timedOut) {
    return new LambdaExtprocError('lambda_timeout', `Lambda ${target.functionName} did not answer within ${target.timeout} ms`, {}, { cause: error });
  }
  if (cancelled) return new LambdaExtprocError('internal', 'invocation cancelled: Envoy closed the stream', {}, { cause: error });
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const status = sdk.$metadata?.httpStatusCode ?? sdk.$response?.statusCode;
  const awsCode = sdk.name ?? 'Error';
  const reason = `Lambda ${target.functionName}: ${awsCode}: ${sdk.message ?? String(error)}`;
  if (status === undefined || status < 400) {
    if (sdk.name === 'CredentialsProviderError') return new LambdaExtprocError('credentials', reason, {}, { cause: error });
    const code = sdk.code === undefined ? '' : ` (${sdk.code})`;
    return new LambdaExtprocError('lambda_unreachable', `${reason}${code}`, { awsCode }, { cause: error });
  }
  const details = { upstreamStatus: status, awsCode };
  if (status === 429) {
    const retryAfter = sdk.$response?.headers?.['retry-after'];
    return new LambdaExtprocError('lambda_throttled', reason, retryAfter === undefined ? details : { ...details, retryAfter }, { cause: error });
  }
  if (status === 413) return new LambdaExtprocError('lambda_too_large', reason, details, { cause: error });
  if (status === 401 || status === 403) return new LambdaExtprocError('lambda_denied', reason, details, { cause: error });
  return new LambdaExtprocError('lambda_service', reason, details, { cause: error });
}
