// Builders for every message the server sends to Envoy.
import type { HttpResponse } from '../http';
import { encodeImmediateResponse, type EncodedProcessingResponse } from './encode-immediate';
import { toSetHeaders } from './headers';
import { BodySendMode, type ProcessingMode, type ProcessingResponse, type RequestCase } from './messages';

const CONTINUE: ProcessingResponse['request_headers'] = { response: { status: 0 } };

/** CONTINUE of the kind that answers the given request message. */
export function continueFor(kind: RequestCase): ProcessingResponse {
  switch (kind) {
    case 'request_headers':
      return { request_headers: CONTINUE };
    case 'response_headers':
      return { response_headers: CONTINUE };
    case 'request_body':
      return { request_body: CONTINUE };
    case 'response_body':
      return { response_body: CONTINUE };
    case 'request_trailers':
      return { request_trailers: {} };
    case 'response_trailers':
      return { response_trailers: {} };
  }
}

/** The answer to Envoy, already encoded: it is made once per request (encode-immediate.ts). */
export function immediateResponse(response: HttpResponse, details: string): EncodedProcessingResponse {
  const headers = toSetHeaders(response.headers);
  // Envoy would label any body text/plain; say what Lambda's bytes are.
  if (!headers.some((header) => header.name === 'content-type')) {
    headers.push({ name: 'content-type', value: response.body.length > 0 ? 'application/octet-stream' : 'text/plain', append: false });
  }
  // A number: Envoy's StatusCode enum has gaps (418) but carries any value.
  return encodeImmediateResponse(response.status, headers, response.body, details);
}

/** Keeps Envoy's message timer from firing while a slow function runs. */
export function overrideTimeout(ms: number): ProcessingResponse {
  return { override_message_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 } };
}

export function requestBufferedBody(): ProcessingResponse {
  const mode: ProcessingMode = { request_body_mode: BodySendMode.BUFFERED };
  return { request_headers: CONTINUE, mode_override: mode };
}
