// A lean Lambda Invoke: a SigV4 signer for this one request shape (sigv4.ts)
// and the SDK's credential provider over an undici keep-alive pool, without
// the SDK's middleware stack, which cost several times the signing and the
// HTTP call together (see the README's Performance section). Same behaviour as
// invoke.ts: same endpoint, one attempt, the route's timeout and the caller's
// signal, Lambda's raw headers, and every failure mapped to the same kinds.
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { Pool } from 'undici';
import { headerValue, type HeaderList } from '../http';
import { createInvokeSigner, uriEscape } from './sigv4';
import { classifyInvokeError, type InvokeTarget, type LambdaResult, type SdkErrorShape } from './invoke';

export interface FastInvokeSettings {
  /** Scheme, host, port and optional base path, as resolveLambdaEndpoint gives it. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Keep-alive connections to the endpoint's origin (LambdaClientCache.poolFor). */
  readonly pool: Pool;
}

export type FastInvoke = (payload: Uint8Array, signal: AbortSignal) => Promise<LambdaResult>;

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
  });

  return async (payload, signal) => {
    // One controller, one timer: AbortSignal.timeout + AbortSignal.any cost more per request.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, target.timeout);
    const onCancel = (): void => controller.abort();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', onCancel, { once: true });
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    try {
      const signed = await sign(body);
      const response = await pool.request({
        method: 'POST',
        path: requestPath,
        headers: { ...signed, 'user-agent': USER_AGENT },
        body,
        signal: controller.signal,
      });
      const bytes = Buffer.from(await response.body.arrayBuffer());
      const headers = toHeaderList(response.headers);
      if (response.statusCode >= 400) throw lambdaApiError(response.statusCode, headers, bytes);
      return { status: response.statusCode, headers, body: bytes };
    } catch (error) {
      throw classifyInvokeError(error, target, timedOut, signal.aborted);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onCancel);
    }
  };
}

// Lower-case names; repeated headers joined with ',' as the SDK's HTTP handler does.
function toHeaderList(headers: Record<string, string | string[] | undefined>): HeaderList {
  const list: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    list.push([name.toLowerCase(), Array.isArray(value) ? value.join(',') : value]);
  }
  return list;
}

/** A Lambda API error answer, shaped as the SDK's service exceptions are, so classifyInvokeError maps both paths alike. */
function lambdaApiError(status: number, headers: HeaderList, body: Buffer): SdkErrorShape {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value !== null && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // not JSON: the code comes from the header alone
  }
  const header = headerValue(headers, 'x-amzn-errortype');
  const rawCode = header ?? stringOf(parsed.code) ?? stringOf(parsed.__type) ?? '';
  // AWS sends "Code:http://internal..." in the header and "namespace#Code" in bodies.
  const code = (rawCode.split(':')[0] ?? '').split('#').pop() ?? '';
  const name = code === '' ? 'UnknownError' : code;
  const message = stringOf(parsed.message) ?? stringOf(parsed.Message) ?? name;
  return { name, message, $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers: Object.fromEntries(headers) } };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
