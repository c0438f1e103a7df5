// Per-stream request state → the plain HttpRequest the handler takes.
import { randomUUID } from 'node:crypto';
import { headerValue, type HttpRequest } from '../http';
import type { SplitHeaders } from './headers';
import type { StructValue } from './messages';

/** Everything of the request but its body, known once the headers are in. */
export type RequestHead = Omit<HttpRequest, 'body'>;

/** attributes["envoy.filters.http.ext_proc"].fields: what request_attributes asked Envoy for. */
export type EnvoyAttributes = Readonly<Record<string, StructValue>>;

export function toRequestHead(split: SplitHeaders, receivedAt: number, attributes?: EnvoyAttributes): RequestHead {
  const { pseudo } = split;
  const path = pseudo.path ?? '/';
  const q = path.indexOf('?');
  const headers = split.regular;
  const protocol = attributes?.['request.protocol']?.stringValue;
  // Envoy's view of the client (after use_remote_address / xff_num_trusted_hops), never a header.
  const sourceAddress = attributes?.['source.address']?.stringValue;
  return {
    method: pseudo.method ?? 'GET',
    path,
    pathname: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? '' : path.slice(q + 1),
    authority: pseudo.authority ?? headerValue(headers, 'host') ?? '',
    scheme: pseudo.scheme ?? 'http',
    headers,
    receivedAt,
    requestId: headerValue(headers, 'x-request-id') ?? randomUUID(),
    protocol: protocol === '' ? undefined : protocol,
    sourceAddress: sourceAddress === '' ? undefined : sourceAddress,
  };
}

export function toHttpRequest(head: RequestHead, chunks: readonly Buffer[] | null): HttpRequest {
  const body = chunks === null ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  return { ...head, body };
}
