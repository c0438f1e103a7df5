// The plain values that cross the boundary between the ext_proc stream and
// the route handler. Neither side knows the other's protocol.

/** Header lines in arrival order; names are lower-case, names may repeat. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

export interface HttpRequest {
  readonly method: string;
  /** `:path` as Envoy sent it, query included. */
  readonly path: string;
  /** Path without the query string. */
  readonly pathname: string;
  /** Raw query string without the leading `?` ('' when none). */
  readonly query: string;
  readonly authority: string;
  readonly scheme: string;
  /** Regular headers (no pseudo-headers), lower-case names, in order. */
  readonly headers: HeaderList;
  /** null when the request has no body at all. */
  readonly body: Buffer | null;
  /** Milliseconds since the epoch when the first message arrived. */
  readonly receivedAt: number;
  /** Envoy's x-request-id, or one we made. */
  readonly requestId: string;
  /** `HTTP/1.1`, `HTTP/2`...: Envoy's `request.protocol` attribute, when configured. */
  readonly protocol?: string | undefined;
  /** Envoy's `source.address` attribute (`10.0.0.1:51234`, `[::1]:5000`): the client as Envoy trusts it, when configured. */
  readonly sourceAddress?: string | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
}

/** A response that has begun: headers are due now, `chunks` starts with the first byte. */
export interface StreamingResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly chunks: AsyncIterable<Buffer>;
}

/** The two shapes an answer can take: whole (one ImmediateResponse), or begun with its bytes still to come. */
export type StreamStart = { readonly kind: 'whole'; readonly response: HttpResponse } | { readonly kind: 'stream'; readonly response: StreamingResponse };

/** Connection-level headers (RFC 9110 §7.6.1): never copied from one hop to the next. */
export const HOP_BY_HOP_HEADERS: readonly string[] = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding', 'te', 'trailer'];

/** First value of a header, or undefined. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  for (const [key, value] of headers) if (key === name) return value;
  return undefined;
}
