// The request path (Envoy's headers → request head → Kong payload) as it was
// before it was made to allocate less: the oracle of
// test/unit/request-path-property.test.ts. Only the functions that changed
// are copied here, unchanged; the rest is the code under test. The bytes of a
// payload are JSON.stringify's: what encodePayload must produce.
import { randomUUID } from 'node:crypto';
import { headerTextFromBytes } from '../../src/header-text';
import { headerValue, type HeaderList, type HttpRequest } from '../../src/http';
import type { HeaderMap, StructValue } from '../../src/extproc/messages';
import { addArg, parseArgs, type Args, MAX_ARGS } from '../../src/payload/args';
import { parseBodyArgs } from '../../src/payload/body';
import type { ForwardOptions } from '../../src/payload/kong';

export interface SplitHeadersBefore {
  readonly pseudo: ReadonlyMap<string, string>;
  readonly regular: HeaderList;
}

export function readHeaderMapBefore(map: HeaderMap | undefined): SplitHeadersBefore {
  const pseudo = new Map<string, string>();
  const regular: Array<readonly [string, string]> = [];
  for (const entry of map?.headers ?? []) {
    const name = entry.key.toLowerCase();
    const value = entry.raw_value !== undefined && entry.raw_value.length > 0 ? headerTextFromBytes(entry.raw_value) : (entry.value ?? '');
    if (name.startsWith(':')) pseudo.set(name, value);
    else regular.push([name, value]);
  }
  return { pseudo, regular };
}

export function toRequestHeadBefore(split: SplitHeadersBefore, receivedAt: number, attributes?: Readonly<Record<string, StructValue>>): Omit<HttpRequest, 'body'> {
  const path = split.pseudo.get(':path') ?? '/';
  const q = path.indexOf('?');
  const headers = split.regular;
  const protocol = attributes?.['request.protocol']?.stringValue;
  const sourceAddress = attributes?.['source.address']?.stringValue;
  return {
    method: split.pseudo.get(':method') ?? 'GET',
    path,
    pathname: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? '' : path.slice(q + 1),
    authority: split.pseudo.get(':authority') ?? headerValue(headers, 'host') ?? '',
    scheme: split.pseudo.get(':scheme') ?? 'http',
    headers,
    receivedAt,
    requestId: headerValue(headers, 'x-request-id') ?? randomUUID(),
    protocol: protocol === '' ? undefined : protocol,
    sourceAddress: sourceAddress === '' ? undefined : sourceAddress,
  };
}

const TEXT_TYPES = new Set(['text/plain', 'text/html', 'application/xml', 'text/xml', 'application/soap+xml']);

export function buildForwardPayloadBefore(request: HttpRequest, options: ForwardOptions): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  if (options.forward_request_method) payload.request_method = request.method;
  if (options.forward_request_headers) payload.request_headers = headerArgsBefore(request);
  if (options.forward_request_uri) {
    payload.request_uri = request.path;
    payload.request_uri_args = parseArgs(request.query);
  }
  if (options.forward_request_body) {
    const body = request.body !== null && request.body.length > 0 ? request.body : null;
    const parsed = parseBodyArgs(request.headers, body);
    if (parsed.kind === 'unsupported') {
      const contentType = headerValue(request.headers, 'content-type');
      if (options.base64_encode_body && (contentType === undefined || !TEXT_TYPES.has(contentType))) {
        payload.request_body = body === null ? '' : body.toString('base64');
        payload.request_body_base64 = true;
      } else if (body !== null) {
        payload.request_body = body.toString('utf8');
      }
      payload.request_body_args = {};
    } else {
      if (body !== null) payload.request_body = body.toString('utf8');
      if (parsed.kind === 'args') payload.request_body_args = parsed.value;
    }
  }
  return payload;
}

function headerArgsBefore(request: HttpRequest): Args {
  const headers: Args = {};
  const lines: Array<readonly [string, string]> = [['host', request.authority], ...request.headers.filter(([name]) => name !== 'host')];
  let count = 0;
  for (const [name, value] of lines) {
    if (count++ >= MAX_ARGS) break;
    addArg(headers, name, value);
  }
  return headers;
}
