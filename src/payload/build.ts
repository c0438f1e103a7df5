// Chooses the payload shape of a route, in Kong's order: API Gateway event,
// forward_request_* object, legacy merged arguments.
import type { RouteConfig } from '../config/schema';
import type { MatchResult } from '../routing';
import type { GatewayRequest } from './gateway-context';
import { buildGatewayV1Event } from './gateway-v1';
import { buildGatewayV2Event, routeKeyOf } from './gateway-v2';
import { encodePayload } from './encode';
import { buildForwardPayload, buildLegacyPayload } from './kong';

export interface BuiltPayload {
  readonly bytes: Buffer;
  /** The body was left out because it exceeded max_body_size (skip_large_bodies). */
  readonly skippedBody: boolean;
}

export function buildPayload(request: GatewayRequest, route: RouteConfig, match: MatchResult): BuiltPayload {
  const skippedBody = route.skip_large_bodies && request.body !== null && request.body.length > route.max_body_size;
  // Kong reads a skipped body as no body at all.
  const effective = skippedBody ? { ...request, body: null } : request;
  return { bytes: encodePayload(buildValue(effective, route, match)), skippedBody };
}

function buildValue(request: GatewayRequest, route: RouteConfig, match: MatchResult): unknown {
  if (route.awsgateway_compatible) {
    if (route.awsgateway_compatible_payload_version === '2.0') {
      return buildGatewayV2Event(request, match, { base64_encode_body: route.base64_encode_body, routeKey: routeKeyOf(route.match) });
    }
    return buildGatewayV1Event(request, match, route);
  }
  const forward = route.forward_request_method || route.forward_request_uri || route.forward_request_headers || route.forward_request_body;
  return forward ? buildForwardPayload(request, route) : buildLegacyPayload(request);
}
