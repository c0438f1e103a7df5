// A lean Lambda Invoke: the SDK's own SigV4 signer (@smithy/signature-v4) and
// credential provider over an undici keep-alive pool, without the SDK's
// middleware stack, which cost several times the signing and the HTTP call
// together (see the README's Performance section). Same behaviour as
// invoke.ts: same endpoint, one attempt, the route's timeout and the caller's
// signal, Lambda's raw headers, and every failure mapped to the same kinds.
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { Pool } from 'undici';
import type { HeaderList } from '../http';
import { NodeSha256 } from './node-sha256';
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
  const signer = new SignatureV4({ credentials: settings.credentials, region: settings.region, service: 'lambda', sha256: NodeSha256, uriEscapePath: true });
  const basePath = url.pathname.replace(/\/+$/, '');
  const path = `${basePath}/2015-03-31/functions/${encodeLabel(target.functionName)}/invocations`;
  const query: Record<string, string> = target.qualifier === undefined ? {} : { Qualifier: target.qualifier };
  const requestPath = target.qualifier === undefined ? path : `${path}?Qualifier=${encodeLabel(target.qualifier)}`;
  const protocol = url.protocol;
  const hostname = url.hostname;
  const port = url.port === '' ? undefined : Number(url.port);
  const host = url.host;

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
      const signed = await signer.sign({
        method: 'POST',
        protocol,
        hostname,
        ...(port === undefined ? {} : { port }),
        path,
        query,
        headers: {
          host,
          'content-type': 'application/octet-stream',
          'content-length': String(body.length),
          'x-amz-invocation-type': target.invocationType,
          'x-amz-log-type': target.logType,
        },
        body,
      });
      const response = await pool.request({
        method: 'POST',
        path: requestPath,
        headers: { ...signed.headers, 'user-agent': USER_AGENT },
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

// The SDK's path-label encoding (extendedEncodeURIComponent): ARNs keep their
// colons encoded, as the signature expects.
function encodeLabel(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
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
  const header = headers.find(([name]) => name === 'x-amzn-errortype')?.[1];
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
