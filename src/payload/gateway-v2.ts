// API Gateway HTTP API (payload format 2.0) event, as AWS documents it:
// raw path and query, cookies apart, repeated headers and query values
// joined with commas, requestContext.http.
import type { MatchResult } from '../routing';
import { ownField, parseArgs, setField } from './args';
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

export interface GatewayV2Options {
  readonly base64_encode_body: boolean;
  /** `$default`, or `GET /pets/{id}` for a path_template route. */
  readonly routeKey: string;
}

/** AWS's routeKey: the method (ANY unless the route allows one) and the path template, else `$default`. */
export function routeKeyOf(match: { readonly path_template?: string | undefined; readonly methods?: readonly string[] | undefined } | undefined): string {
  if (match?.path_template === undefined) return '$default';
  const method = match.methods?.length === 1 ? match.methods[0] : 'ANY';
  return `${method} ${match.path_template}`;
}

export function buildGatewayV2Event(request: GatewayRequest, match: MatchResult, options: GatewayV2Options): Record<string, unknown> {
  const cookies: string[] = [];
  const headers: Record<string, string> = {};
  for (const [name, value] of headerLines(request)) {
    if (name === 'cookie') {
      for (const cookie of value.split(';')) if (cookie.trim() !== '') cookies.push(cookie.trim());
      continue;
    }
    // Names are the client's: `constructor` or `__proto__` are plain fields (args.ts).
    const existing = ownField(headers, name);
    setField(headers, name, existing === undefined ? value : `${existing},${value}`);
  }
  const query = parseArgs(request.query);
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    // AWS gives a valueless argument as "".
    setField(queryStringParameters, name, (Array.isArray(value) ? value : [value]).map((v) => (v === true ? '' : String(v))).join(','));
  }
  const { body, isBase64Encoded } = encodeGatewayBody(request.body, options.base64_encode_body);
  const domainName = domainNameOf(request);
  const hasPathParameters = Object.keys(match.pathParameters).length > 0;
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: request.pathname,
    rawQueryString: request.query,
    cookies: cookies.length === 0 ? undefined : cookies,
    headers,
    queryStringParameters: Object.keys(queryStringParameters).length === 0 ? undefined : queryStringParameters,
    pathParameters: hasPathParameters ? { ...match.pathParameters } : undefined,
    requestContext: {
      domainName,
      domainPrefix: domainPrefixOf(domainName),
      http: {
        method: request.method,
        path: request.pathname,
        protocol: protocolOf(request),
        sourceIp: sourceIpOf(request),
        userAgent: headers['user-agent'],
      },
      requestId: request.requestId,
      routeKey: options.routeKey,
      stage: '$default',
      time: toClfTime(request.receivedAt),
      timeEpoch: request.receivedAt,
    },
    body,
    isBase64Encoded,
  };
}
