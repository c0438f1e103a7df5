// A lean Lambda Invoke: a SigV4 signer for this one request shape (sigv4.ts)
// and the SDK's credential provider over an undici keep-alive pool, without
// the SDK's middleware stack, which cost several times the signing and the
// HTTP call together (see docs/performance.md). Same behaviour as
// invoke.ts: same endpoint, one attempt, the route's timeout and Envoy's
// cancellation, Lambda's raw headers, and every failure mapped to the same kinds.
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Dispatcher, Pool } from 'undici';
import type { Cancellation } from '../cancellation';
import { headerTextFromLatin1 } from '../header-text';
import type { HeaderList } from '../http';
import { createInvokeSigner, uriEscape } from './sigv4';
import { toLambdaApiError } from './api-error';
import { classifyInvokeError, type InvokeTarget, type LambdaResult } from './invoke';
import { announcesTooMuch, LAMBDA_RESPONSE_LIMIT, responseTooLarge } from './response-limit';

export interface FastInvokeSettings {
  /** Scheme, host, port and optional base path, as resolveLambdaEndpoint gives it. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Keep-alive connections to the endpoint's origin (LambdaClientCache.poolFor). */
  readonly pool: Pool;
}

export type FastInvoke = (payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaResult>;

const USER_AGENT = 'lambda-extproc';

/** Builds the invoke function of one route: pool, signer and request line are made here, once. */
export function createFastInvoke(settings: FastInvokeSettings, target: InvokeTarget): FastInvoke {
  const url = new URL(settings.endpoint);
  const pool = settings.pool;
  const basePath = url.pathname.replace(/\/+$/, '');
  // The SDK's path-label encoding: ARNs keep their colons encoded, as the signature expects.
  const path = `${basePath}/2015-03-31/functions/${uriEscape(target.functionName)}/invocations`;
  const requestPath = target.qualifier === undefined ? path : `${path}?Qualifier=${uriEscape(target.qualifier)}`;
  const sign = createInvokeSigner({
    credentials: settings.credentials,
    region: settings.region,
    host: url.host,
    path,
    qualifier: target.qualifier,
    invocationType: target.invocationType,
    logType: target.logType,
    userAgent: USER_AGENT,
  });

  return async (payload, cancellation) => {
    // One timer and one cancel hook, both plain closures: no AbortController on this path.
    let stop: ((reason: Error) => void) | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop?.(new Error(`timed out after ${target.timeout} ms`));
    }, target.timeout);
    const forget = cancellation.onCancel(() => stop?.(new Error('cancelled')));
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    try {
      const signed = await sign(body);
      if (timedOut || cancellation.cancelled) throw new Error('stopped before the request was sent');
      const response = await new Promise<RawResponse>((resolve, reject) => {
        stop = dispatchInvoke(pool, { method: 'POST', path: requestPath, headers: signed, body }, target.functionName, resolve, reject);
      });
      const headers = toHeaderList(response.headers);
      if (response.statusCode >= 400) throw toLambdaApiError(response.statusCode, headers, response.body);
      return { status: response.statusCode, headers, body: response.body };
    } catch (error) {
      throw classifyInvokeError(error, target, timedOut, cancellation.cancelled);
    } finally {
      clearTimeout(timer);
      forget();
    }
  };
}

interface RawResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * One request on undici's dispatch API, the layer its request() is built on,
 * without request()'s body stream. Returns a function that stops the request:
 * at once if it is on a connection, as soon as it gets one if it is queued.
 * The answer is read up to LAMBDA_RESPONSE_LIMIT: past it (or when
 * Content-Length announces more) the request is aborted, which closes its
 * connection, and it fails with lambda_response_too_large.
 */
function dispatchInvoke(
  pool: Pool,
  options: Dispatcher.DispatchOptions,
  functionName: string,
  resolve: (response: RawResponse) => void,
  reject: (error: Error) => void,
): (reason: Error) => void {
  let controller: Dispatcher.DispatchController | undefined;
  let stopped: Error | undefined;
  let settled = false;
  let statusCode = 0;
  let headers: RawResponse['headers'] = {};
  let received = 0;
  const chunks: Buffer[] = [];
  const fail = (error: Error): void => {
    if (settled) return;
    settled = true;
    reject(error);
  };
  const tooLarge = (started: Dispatcher.DispatchController, how: string): void => {
    const error = responseTooLarge(functionName, how);
    chunks.length = 0;
    fail(error);
    started.abort(error);
  };
  pool.dispatch(options, {
    onRequestStart(started) {
      controller = started;
      if (stopped !== undefined) started.abort(stopped);
    },
    onResponseStart(started, code, responseHeaders) {
      // A 1xx answer comes first and is replaced by the final one.
      statusCode = code;
      headers = responseHeaders;
      if (announcesTooMuch(responseHeaders['content-length'])) tooLarge(started, `announced Content-Length ${String(responseHeaders['content-length'])}`);
    },
    onResponseData(started, chunk) {
      if (settled) return;
      received += chunk.length;
      if (received > LAMBDA_RESPONSE_LIMIT) return tooLarge(started, `body passed ${LAMBDA_RESPONSE_LIMIT} bytes`);
      chunks.push(chunk);
    },
    onResponseEnd() {
      if (settled) return;
      settled = true;
      resolve({ statusCode, headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received) });
    },
    onResponseError(_controller, error) {
      fail(error);
    },
  });
  return (reason) => {
    if (stopped !== undefined) return;
    stopped = reason;
    controller?.abort(reason);
    fail(reason);
  };
}

// Lower-case names; repeated headers joined with ',' as the SDK's HTTP handler
// does; values (undici's latin1 text) read as UTF-8 bytes, as the client's are.
export function toHeaderList(headers: Record<string, string | string[] | undefined>): HeaderList {
  const list: Array<readonly [string, string]> = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    list.push([name.toLowerCase(), headerTextFromLatin1(Array.isArray(value) ? value.join(',') : value)]);
  }
  return list;
}
