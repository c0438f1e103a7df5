// API Gateway REST (payload format 1.0) proxy event, field by field as
// Kong's aws_serializer builds it (reference §2.3).
import type { MatchResult } from '../routing';
import { ownField, parseArgs, setField, type ArgValue } from './args';
import {
  domainNameOf,
  domainPrefixOf,
  encodeGatewayBody,
  headerLines,
  protocolOf,
  sourceIpOf,
  toClfTime,
  type GatewayRequest,
} from './gateway-context';

export interface GatewayV1Options {
  readonly base64_encode_body: boolean;
}

type Scalar = string | boolean;

export function buildGatewayV1Event(request: GatewayRequest, match: MatchResult, options: GatewayV1Options): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  // Names are the client's: `constructor` or `__proto__` are plain fields (args.ts).
  for (const [name, value] of headerLines(request)) {
    const values = ownField(multiValueHeaders, name);
    if (values === undefined) {
      setField(headers, name, value);
      setField(multiValueHeaders, name, [value]);
    } else {
      values.push(value);
    }
  }
  const queryStringParameters: Record<string, Scalar> = {};
  const multiValueQueryStringParameters: Record<string, Scalar[]> = {};
  for (const [name, value] of Object.entries(parseArgs(request.query))) {
    const values = asArray(value);
    setField(queryStringParameters, name, values[0] ?? '');
    setField(multiValueQueryStringParameters, name, values);
  }
  const { body, isBase64Encoded } = encodeGatewayBody(request.body, options.base64_encode_body);
  const domainName = domainNameOf(request);
  return {
    version: '1.0',
    resource: match.resource,
    path: request.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    pathParameters: { ...match.pathParameters },
    queryStringParameters,
    multiValueQueryStringParameters,
    body,
    isBase64Encoded,
    requestContext: {
      path: request.pathname,
      protocol: protocolOf(request),
      httpMethod: request.method,
      domainName,
      domainPrefix: domainPrefixOf(domainName),
      identity: { sourceIp: sourceIpOf(request), userAgent: headers['user-agent'] },
      requestId: request.requestId,
      requestTime: toClfTime(request.receivedAt),
      requestTimeEpoch: request.receivedAt,
      // Kong has no stages: the resource path is the request path.
      resourcePath: request.pathname,
    },
  };
}

function asArray(value: ArgValue): Scalar[] {
  return Array.isArray(value) ? value : [value];
}
