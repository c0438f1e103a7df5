// Resolves each route's Lambda target once (region, endpoint, credentials,
// client) and invokes it. Caches are passed in so they outlive a reload.
import { toAbortSignal, type Cancellation } from '../cancellation';
import type { RouteConfig } from '../config/schema';
import { resolveLambdaEndpoint } from '../aws/endpoint';
import { resolveRegion } from '../aws/region';
import { routeProblemOf } from '../config/route-problems';
import type { CredentialCache } from '../aws/credentials';
import { LambdaExtprocError } from '../errors';
import type { LambdaClientCache } from './client';
import { invokeLambda, type InvokeTarget, type LambdaResult } from './invoke';
import { createFastInvoke } from './fast-invoke';
import { createStreamInvoke, type LambdaStream } from './stream-invoke';

export interface LambdaDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly credentials: CredentialCache;
  readonly clients: LambdaClientCache;
}

export type RouteInvoker = (route: RouteConfig, payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaResult>;

export interface ResolvedTarget {
  readonly target: InvokeTarget;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  /** Set when the route cannot be invoked; each request answers with it. */
  readonly problem: LambdaExtprocError | undefined;
}

export function resolveTarget(route: RouteConfig, env: NodeJS.ProcessEnv): ResolvedTarget {
  const region = resolveRegion(route, env);
  const endpoint = resolveLambdaEndpoint(route, region, env);
  const target: InvokeTarget = {
    functionName: route.function_name,
    qualifier: route.qualifier,
    invocationType: route.invocation_type,
    logType: route.log_type,
    timeout: route.timeout,
  };
  // The same check as `check` and the startup warning.
  const found = routeProblemOf(route, env);
  const problem = found === undefined ? undefined : new LambdaExtprocError(found.kind, `route ${route.name}: ${found.reason}`);
  return { target, region, endpoint, problem };
}

export function createRouteInvoker(routes: readonly RouteConfig[], deps: LambdaDeps): RouteInvoker {
  const byName = new Map(
    routes.map((route) => {
      const resolved = resolveTarget(route, deps.env);
      if (resolved.problem !== undefined || resolved.region === undefined) {
        const problem = resolved.problem ?? new LambdaExtprocError('no_region', `route ${route.name}: no region or host specified`);
        return [route.name, { call: () => Promise.reject(problem) }] as const;
      }
      const source = deps.credentials.sourceFor(route, resolved.region);
      const target = resolved.target;
      const endpoint = resolved.endpoint;
      // The lean path (same behaviour, a fraction of the CPU); proxy_url routes keep the SDK client and its proxy agents.
      if (route.proxy_url === undefined && endpoint !== undefined) {
        const pool = deps.clients.poolFor(new URL(endpoint).origin, route.keepalive);
        return [route.name, { call: createFastInvoke({ endpoint, region: resolved.region, credentials: source.provider, pool }, target) }] as const;
      }
      const client = deps.clients.clientFor({
        region: resolved.region,
        endpoint,
        credentialsKey: source.key,
        credentials: source.provider,
        keepalive: route.keepalive,
        proxyUrl: route.proxy_url,
      });
      const call = async (payload: Uint8Array, cancellation: Cancellation): Promise<LambdaResult> => {
        const { signal, release } = toAbortSignal(cancellation);
        try {
          return await invokeLambda(client, target, payload, signal);
        } finally {
          release();
        }
      };
      return [route.name, { call }] as const;
    }),
  );
  return (route, payload, cancellation) => {
    const entry = byName.get(route.name);
    if (entry === undefined) return Promise.reject(new LambdaExtprocError('internal', `route ${route.name} has no Lambda target`));
    return entry.call(payload, cancellation);
  };
}

export type StreamRouteInvoker = (route: RouteConfig, payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaStream>;

/**
 * InvokeWithResponseStream for the routes with invoke_mode RESPONSE_STREAM
 * (the others get none, so buffered routes pay nothing): the same target,
 * credentials and keep-alive pool as the lean Invoke path.
 */
export function createStreamRouteInvoker(routes: readonly RouteConfig[], deps: LambdaDeps): StreamRouteInvoker {
  const byName = new Map<string, (payload: Uint8Array, cancellation: Cancellation) => Promise<LambdaStream>>();
  for (const route of routes) {
    if (route.invoke_mode !== 'RESPONSE_STREAM') continue;
    const resolved = resolveTarget(route, deps.env);
    if (resolved.problem !== undefined || resolved.region === undefined || resolved.endpoint === undefined) {
      const problem = resolved.problem ?? new LambdaExtprocError('no_region', `route ${route.name}: no region or host specified`);
      byName.set(route.name, () => Promise.reject(problem));
      continue;
    }
    const source = deps.credentials.sourceFor(route, resolved.region);
    const dispatcher = deps.clients.poolFor(new URL(resolved.endpoint).origin, route.keepalive);
    byName.set(route.name, createStreamInvoke({ endpoint: resolved.endpoint, region: resolved.region, credentials: source.provider, dispatcher }, resolved.target));
  }
  return (route, payload, cancellation) => {
    const call = byName.get(route.name);
    if (call === undefined) return Promise.reject(new LambdaExtprocError('internal', `route ${route.name} has no streaming Lambda target`));
    return call(payload, cancellation);
  };
}
