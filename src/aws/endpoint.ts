// The Lambda endpoint of a route, resolved once at config load.
import { dnsSuffixOf } from './region';

export interface EndpointInput {
  readonly host?: string | undefined;
  readonly port: number;
  readonly disable_https: boolean;
}

/**
 * `host`/`port`/`disable_https` win (as in Kong); else AWS_ENDPOINT_URL_LAMBDA
 * (or AWS_ENDPOINT_URL); else the regional public endpoint. Returns undefined
 * only when there is neither a host nor a region.
 */
export function resolveLambdaEndpoint(route: EndpointInput, region: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const scheme = route.disable_https ? 'http' : 'https';
  if (route.host !== undefined) return `${scheme}://${route.host}${portSuffix(scheme, route.port)}`;
  const fromEnv = env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL;
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  if (region === undefined) return undefined;
  return `${scheme}://lambda.${region}.${dnsSuffixOf(region)}${portSuffix(scheme, route.port)}`;
}

function portSuffix(scheme: string, port: number): string {
  return (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80) ? '' : `:${port}`;
}
