// InvokeWithResponseStream on the lean path: the same signer, endpoint,
// credentials, connection pool, qualifier and invocation headers as
// fast-invoke.ts, one attempt, the route's timeout (here for the whole stream,
// first byte to InvokeComplete) and Envoy's cancellation. The answer is a
// plain value whose chunks arrive as the function writes them.
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Dispatcher } from 'undici';
import type { Cancellation } from '../cancellation';
import type { HeaderList } from '../http';
import { toLambdaApiError } from './api-error';
import { decodePayloadChunks } from './event-stream';
import { toHeaderList } from './fast-invoke';
import { classifyInvokeError, type InvokeTarget } from './invoke';
import { createInvokeSigner, uriEscape } from './sigv4';

export interface StreamInvokeSettings {
  /** Scheme, host, port and optional base path, as resolveLambdaEndpoint gives it. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Keep-alive connections to the endpoint's origin (LambdaClientCache.poolFor). */
  readonly dispatcher: Dispatcher;
}

/** A started response stream: Lambda's status and headers, then the function's bytes. */
export interface LambdaStream {
  /** 200: InvokeWithResponseStream answers errors before the stream with 4xx/5xx instead. */
  readonly status: number;
  /**
   * Lambda's response headers, lower-case: content-type is the function's
   * stream content type (not the framing's), x-amzn-requestid,
   * x-amzn-trace-id, x-amz-executed-version.
   */
  readonly headers: HeaderList;
  /**
   * Ends normally on InvokeComplete; throws LambdaExtprocError `function_error`
   * (functionFailureOf gives the details), `lambda_timeout` (the route's
   * timeout passed mid-stream), `lambda_unreachable` (the connection was cut or
   * the framing broke) or `internal` (cancelled). Reads Lambda only as fast as
   * it is pulled. Leaving the loop early closes the connection.
   */
  readonly chunks: AsyncIterable<Buffer>;
}

export type StreamInvoke = (payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaStream>;

const USER_AGENT = 'lambda-extproc';
// Lambda's error documents are small; anything longer is not one.
const API_ERROR_LIMIT = 64 * 1024;

export function createStreamInvoke(settings: StreamInvokeSettings, target: InvokeTarget): StreamInvoke {
  const url = new URL(settings.endpoint);
  const basePath = url.pathname.replace(/\/+$/, '');
  const path = `${basePath}/2021-11-15/functions/${uriEscape(target.functionName)}/response-streaming-invocations`;
  const requestPath = target.qualifier === undefined ? path : `${path}?Qualifier=${uriEscape(target.qualifier)}`;
  const sign = createInvokeSigner({
    credentials: settings.credentials,
    region: settings.region,
    host: url.host,
    path,
    qualifier: target.qualifier,
    // The config allows RESPONSE_STREAM with RequestResponse only.
    invocationType: 'RequestResponse',
    logType: target.logType,
    userAgent: USER_AGENT,
  });

  return async (payload, cancellation) => {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${target.timeout} ms`));
    }, target.timeout);
    const forget = cancellation.onCancel(() => controller.abort(new Error('cancelled')));
    const release = (): void => {
      clearTimeout(timer);
      forget();
    };
    const classify = (error: unknown) => classifyInvokeError(error, target, timedOut, cancellation.cancelled);

    let response: Dispatcher.ResponseData;
    try {
      const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      const signed = await sign(body);
      if (timedOut || cancellation.cancelled) throw new Error('stopped before the request was sent');
      response = await settings.dispatcher.request({
        origin: url.origin,
        path: requestPath,
        method: 'POST',
        headers: signed,
        body,
        signal: controller.signal,
        // The route's timer bounds the whole stream; undici's own would cut a function that pauses.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      release();
      throw classify(error);
    }

    const headers = toHeaderList(response.headers);
    if (response.statusCode >= 400) {
      try {
        throw toLambdaApiError(response.statusCode, headers, await readLimited(response.body, API_ERROR_LIMIT));
      } catch (error) {
        throw classify(error);
      } finally {
        release();
      }
    }
    return { status: response.statusCode, headers, chunks: streamChunks(response.body, target.functionName, controller, release, classify) };
  };
}

async function* streamChunks(
  body: Dispatcher.ResponseData['body'],
  functionName: string,
  controller: AbortController,
  release: () => void,
  classify: (error: unknown) => Error,
): AsyncGenerator<Buffer, void, undefined> {
  let complete = false;
  try {
    yield* decodePayloadChunks(body, functionName);
    complete = true;
  } catch (error) {
    throw classify(error);
  } finally {
    release();
    // A failure or a consumer that left early: close this connection rather than read the rest.
    if (!complete) {
      controller.abort(new Error('response stream abandoned'));
      body.destroy();
    }
  }
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    length += bytes.length;
    if (length > limit) {
      body.destroy();
      break;
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}
