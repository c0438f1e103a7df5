// A lean Lambda Invoke: a SigV4 signer for this one request shape (sigv4.ts)
// and the SDK's credential provider over an undici keep-alive pool, without
// the SDK's middleware stack, which cost several times the signing and the
// HTTP call together (see docs/performance.md). Same behaviour as
// invoke.ts: same endpoint, one attempt, the route's timeout and Envoy's
// cancellation, Lambda's raw headers, and every failure mapped to the same kinds.
import type { Dispatcher, Pool } from 'undici';
import type { Cancellation, CancelListener } from '../cancellation';
import { headerTextFromLatin1 } from '../header-text';
import type { HeaderList } from '../http';
import { createInvokeSigner, uriEscape, type SigningCredentials } from './sigv4';
import { toLambdaApiError } from './api-error';
import { classifyInvokeError, type InvokeTarget, type LambdaResult } from './invoke';
import { announcesTooMuch, LAMBDA_RESPONSE_LIMIT, responseTooLarge } from './response-limit';

export interface FastInvokeSettings {
  /** Scheme, host, port and optional base path, as resolveLambdaEndpoint gives it. */
  readonly endpoint: string;
  readonly region: string;
  /** Asked on every request; with `fresh()` (the route's CredentialSource has it) signing needs no promise. */
  readonly credentials: SigningCredentials;
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

  const call: RouteCall = { pool, requestPath, target };
  return (payload, cancellation) => {
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const invocation = new Invocation(call, body, cancellation);
    try {
      // Signed at once while the provider holds fresh credentials; else after it answers.
      const signed = sign.now(body);
      if (signed !== undefined) invocation.send(signed);
      else sign(body).then((headers) => invocation.send(headers), (error: unknown) => invocation.signingFailed(error));
    } catch (error) {
      // As from an async function: a failure is the promise's, never a throw.
      invocation.signingFailed(error);
    }
    return invocation.promise;
  };
}

/** What every invocation of one route shares. */
interface RouteCall {
  readonly pool: Pool;
  readonly requestPath: string;
  readonly target: InvokeTarget;
}

// The executor of every invocation's promise: no closure per call.
let capturedResolve: ((result: LambdaResult) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function capture(resolve: (result: LambdaResult) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

function onRouteTimeout(invocation: Invocation): void {
  invocation.timeOut();
}

/**
 * One invocation: its route timer, its cancel hook and its request on undici's
 * dispatch API (the layer request() is built on, without request()'s body
 * stream), in one object whose methods are on the prototype. The timer covers
 * the whole invocation; a stop (timeout, Envoy's cancel) aborts the request at
 * once if it is on a connection, as soon as it gets one if it is queued. While
 * the credentials are fetched a stop only takes note: the signing's own
 * outcome then decides the error, as before the request is sent. The answer is
 * read up to LAMBDA_RESPONSE_LIMIT: past it (or when Content-Length announces
 * more) the request is aborted, which closes its connection, and it fails with
 * lambda_response_too_large.
 */
class Invocation implements Dispatcher.DispatchHandler, CancelListener {
  readonly promise: Promise<LambdaResult>;
  readonly #resolve: (result: LambdaResult) => void;
  readonly #reject: (error: Error) => void;
  readonly #call: RouteCall;
  readonly #body: Buffer;
  readonly #cancellation: Cancellation;
  readonly #timer: NodeJS.Timeout;
  #sent = false;
  #timedOut = false;
  #stopped: Error | undefined;
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined;
  #statusCode = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #received = 0;
  #first: Buffer | undefined;
  #chunks: Buffer[] | undefined;

  constructor(call: RouteCall, body: Buffer, cancellation: Cancellation) {
    this.promise = new Promise(capture);
    this.#resolve = capturedResolve as (result: LambdaResult) => void;
    this.#reject = capturedReject as (error: Error) => void;
    this.#call = call;
    this.#body = body;
    this.#cancellation = cancellation;
    this.#timer = setTimeout(onRouteTimeout, call.target.timeout, this);
    cancellation.listen(this);
  }

  send(headers: Record<string, string>): void {
    this.#sent = true;
    if (this.#stopped !== undefined) return this.#fail(new Error('stopped before the request was sent'));
    try {
      this.#call.pool.dispatch({ method: 'POST', path: this.#call.requestPath, headers, body: this.#body }, this);
    } catch (error) {
      this.#fail(error);
    }
  }

  signingFailed(error: unknown): void {
    this.#fail(error);
  }

  timeOut(): void {
    this.#timedOut = true;
    this.#stop(new Error(`timed out after ${this.#call.target.timeout} ms`));
  }

  onCancelled(): void {
    this.#stop(new Error('cancelled'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#stopped !== undefined) controller.abort(this.#stopped);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // A 1xx answer comes first and is replaced by the final one.
    this.#statusCode = statusCode;
    this.#headers = headers;
    const length = headers['content-length'];
    if (announcesTooMuch(length)) this.#tooLarge(controller, `announced Content-Length ${String(length)}`);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#received += chunk.length;
    if (this.#received > LAMBDA_RESPONSE_LIMIT) return this.#tooLarge(controller, `body passed ${LAMBDA_RESPONSE_LIMIT} bytes`);
    if (this.#first === undefined) this.#first = chunk;
    else (this.#chunks ??= [this.#first]).push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const first = this.#first;
    const body = this.#chunks !== undefined ? Buffer.concat(this.#chunks, this.#received) : (first ?? Buffer.alloc(0));
    const headers = toHeaderList(this.#headers);
    const status = this.#statusCode;
    if (status >= 400) return this.#fail(toLambdaApiError(status, headers, body));
    this.#done();
    this.#resolve({ status, headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(error);
  }

  #stop(reason: Error): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = reason;
    // Before the request is sent, send() (or the signing's failure) answers.
    if (!this.#sent) return;
    this.#controller?.abort(reason);
    this.#fail(reason);
  }

  #tooLarge(controller: Dispatcher.DispatchController, how: string): void {
    const error = responseTooLarge(this.#call.target.functionName, how);
    this.#first = undefined;
    this.#chunks = undefined;
    this.#fail(error);
    controller.abort(error);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#done();
    this.#reject(classifyInvokeError(error, this.#call.target, this.#timedOut, this.#cancellation.cancelled));
  }

  #done(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#cancellation.unlisten(this);
  }
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
