// A lean Lambda Invoke: the SDK's own SigV4 signer (@smithy/signature-v4) and
// credential provider over an undici keep-alive pool, without the SDK's
// middleware stack, which cost several times the signing and the HTTP call
// together (see the README's Performance section). Same behaviour as
// invoke.ts: same endpoint, one attempt, the route's timeout and the caller's
// signal, Lambda's raw headers, and every failure mapped to the same kinds.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import { Pool } from 'undici';
import { LambdaExtprocError } from '../errors';
import type { HeaderList } from '../http';
import type { InvokeTarget, LambdaResult } from './invoke';

export interface FastInvokeSettings {
  /** Scheme, host, port and optional base path, as resolveLambdaEndpoint gives it. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** Idle keep-alive of pooled connections, ms (the route's `keepalive`). */
  readonly keepalive: number;
}

export type FastInvoke = (payload: Uint8Array, signal: AbortSignal) => Promise<LambdaResult>;

// The SDK's connection limit per client (src/lambda/client.ts).
const MAX_CONNECTIONS = 256;
const USER_AGENT = 'lambda-extproc';
const pools = new Map<string, Pool>();

/** Builds the invoke function of one route: pool, signer and request line are made here, once. */
export function createFastInvoke(settings: FastInvokeSettings, target: InvokeTarget): FastInvoke {
  const url = new URL(settings.endpoint);
  const pool = poolFor(url.origin, settings.keepalive);
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
      throw classifyFastInvokeError(error, target, timedOut, signal.aborted);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onCancel);
    }
  };
}

/** Closes every pooled connection (at shutdown). */
export async function destroyFastInvokePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.destroy()));
}

function poolFor(origin: string, keepalive: number): Pool {
  const key = `${origin}|${keepalive}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new Pool(origin, { connections: MAX_CONNECTIONS, pipelining: 1, keepAliveTimeout: keepalive, keepAliveMaxTimeout: keepalive });
    pools.set(key, pool);
  }
  return pool;
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

/** A Lambda API error answer, shaped as the SDK's service exceptions are. */
interface ApiError {
  readonly name: string;
  readonly message: string;
  readonly status: number;
  readonly retryAfter: string | undefined;
}

const API_ERROR = Symbol('lambdaApiError');

function lambdaApiError(status: number, headers: HeaderList, body: Buffer): { [API_ERROR]: ApiError } {
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
  const retryAfter = headers.find(([key]) => key === 'retry-after')?.[1];
  return { [API_ERROR]: { name, message, status, retryAfter } };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isApiError(error: unknown): error is { [API_ERROR]: ApiError } {
  return typeof error === 'object' && error !== null && API_ERROR in error;
}

// The mapping of invoke.ts's classifyInvokeError, for errors of this path.
function classifyFastInvokeError(error: unknown, target: InvokeTarget, timedOut: boolean, cancelled: boolean): LambdaExtprocError {
  if (error instanceof LambdaExtprocError) return error;
  if (timedOut) {
    return new LambdaExtprocError('lambda_timeout', `Lambda ${target.functionName} did not answer within ${target.timeout} ms`, {}, { cause: error });
  }
  if (cancelled) return new LambdaExtprocError('internal', 'invocation cancelled: Envoy closed the stream', {}, { cause: error });
  if (!isApiError(error)) {
    const failure = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; code?: string; message?: string };
    const awsCode = failure.name ?? 'Error';
    const reason = `Lambda ${target.functionName}: ${awsCode}: ${failure.message ?? String(error)}`;
    if (failure.name === 'CredentialsProviderError') return new LambdaExtprocError('credentials', reason, {}, { cause: error });
    const code = failure.code === undefined ? '' : ` (${failure.code})`;
    return new LambdaExtprocError('lambda_unreachable', `${reason}${code}`, { awsCode }, { cause: error });
  }
  const api = error[API_ERROR];
  const reason = `Lambda ${target.functionName}: ${api.name}: ${api.message}`;
  const details = { upstreamStatus: api.status, awsCode: api.name };
  if (api.status === 429) return new LambdaExtprocError('lambda_throttled', reason, api.retryAfter === undefined ? details : { ...details, retryAfter: api.retryAfter });
  if (api.status === 413) return new LambdaExtprocError('lambda_too_large', reason, details);
  if (api.status === 401 || api.status === 403) return new LambdaExtprocError('lambda_denied', reason, details);
  return new LambdaExtprocError('lambda_service', reason, details);
}

// SHA-256 for the signer from node:crypto; the signer's API asks for a
// checksum constructor, hence a class.
class NodeSha256 implements Checksum {
  private readonly secret: SourceData | undefined;
  private hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.secret = secret;
    this.hash = startHash(secret);
  }

  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash = startHash(this.secret);
  }
}

function startHash(secret: SourceData | undefined): Hash | Hmac {
  return secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
