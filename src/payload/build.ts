// Chooses the payload shape of a route, in Kong's order: API Gateway event,
// forward_request_* object, legacy merged arguments.
import type { RouteConfig } from '../config/schema';
import type { HttpRequest } from '../http';
import type { MatchResult } from '../routing';
import { buildForwardPayload, buildLegacyPayload } from './kong';

export interface BuiltPayload {
  readonly bytes: Buffer;
  /** The body was left out because it exceeded max_body_size (skip_large_bodies). */
  readonly skippedBody: boolean;
}

export function buildPayload(request: HttpRequest, route: RouteConfig, _match: MatchResult): BuiltPayload {
  const skippedBody = route.skip_large_bodies && request.body !== null && request.body.length > route.max_body_size;
  const effective = skippedBody ? { ...request, body: null } : request;
  const forward = route.forward_request_method || route.forward_request_uri || route.forward_request_headers || route.forward_request_body;
  const value = forward ? buildForwardPayload(effective, route, skippedBody) : buildLegacyPayload(effective);
  return { bytes: Buffer.from(JSON.stringify(value), 'utf8'), skippedBody };
}
