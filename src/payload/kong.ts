// Kong's default payloads: the legacy merged-arguments object, and the
// forward_request_* object.
import { headerValue, type HttpRequest } from '../http';
import { addArg, parseArgs, type Args, MAX_ARGS } from './args';
import { parseBodyArgs } from './body';

export interface ForwardOptions {
  readonly forward_request_method: boolean;
  readonly forward_request_uri: boolean;
  readonly forward_request_headers: boolean;
  readonly forward_request_body: boolean;
  readonly base64_encode_body: boolean;
}

/** Query args merged with body args (body wins); a JSON array body alone is the payload. */
export function buildLegacyPayload(request: HttpRequest): unknown {
  const query = parseArgs(request.query);
  const body = parseBodyArgs(request.headers, request.body);
  if (body.kind !== 'args') return query;
  if (Array.isArray(body.value)) {
    // Kong's merge copies the array into a plain table: an empty one encodes as {}.
    if (Object.keys(query).length === 0) return body.value.length === 0 ? {} : body.value;
    return { ...query, ...Object.fromEntries(body.value.map((item, index) => [String(index + 1), item])) };
  }
  return { ...query, ...body.value };
}

// Kong sends these bodies as text; every other unparsed type is base64.
const TEXT_TYPES = new Set(['text/plain', 'text/html', 'application/xml', 'text/xml', 'application/soap+xml']);

export function buildForwardPayload(request: HttpRequest, options: ForwardOptions): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  if (options.forward_request_method) payload.request_method = request.method;
  if (options.forward_request_headers) payload.request_headers = headerArgs(request);
  if (options.forward_request_uri) {
    payload.request_uri = request.path;
    payload.request_uri_args = parseArgs(request.query);
  }
  if (options.forward_request_body) {
    // nginx reports a zero-length body as no body: Kong then leaves request_body out.
    const body = request.body !== null && request.body.length > 0 ? request.body : null;
    const parsed = parseBodyArgs(request.headers, body);
    if (parsed.kind === 'unsupported') {
      // Exact match on the raw header value: `text/plain; charset=utf-8` is base64 too.
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
      // A body that does not parse as its content type says gives no request_body_args key.
      if (parsed.kind === 'args') payload.request_body_args = parsed.value;
    }
  }
  return payload;
}

/** Kong's get_headers(): lower-case names (host included), repeats as arrays, at most 100. */
function headerArgs(request: HttpRequest): Args {
  // Host comes from :authority, always first; host lines are not read.
  const headers: Args = { host: request.authority };
  let count = 1;
  for (const [name, value] of request.headers) {
    if (name === 'host') continue;
    if (count++ >= MAX_ARGS) break;
    addArg(headers, name, value);
  }
  return headers;
}
