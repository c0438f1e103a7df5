// Routes that pass the schema but fail every request: no region to sign for,
// a function ARN in another region than the one the route signs for, or a
// streaming route behind proxy_url.
// One check for `check` (exit 1), the startup and reload warnings, and the
// requests themselves (src/lambda/route-invoker.ts resolveTarget).
import { regionOfFunctionArn, resolveRegion, type RegionInput } from '../aws/region';
import type { ErrorKind } from '../errors';
import type { ConfigProblem } from './load';

export interface RouteProblem {
  /** The route field to change. */
  readonly field: 'aws_region' | 'function_name' | 'proxy_url';
  /** The error kind each request of the route answers with. */
  readonly kind: Extract<ErrorKind, 'no_region' | 'config'>;
  readonly reason: string;
}

export const NO_REGION_REASON =
  'no region or host specified: set aws_region (on the route or in defaults), AWS_REGION or AWS_DEFAULT_REGION, a lambda.<region>.amazonaws.com host, or a full function ARN';

/** What the checks read of a route: its region inputs, and how it reaches Lambda. */
export interface RouteProblemInput extends RegionInput {
  readonly invoke_mode?: string | undefined;
  readonly proxy_url?: string | undefined;
}

export const STREAM_PROXY_REASON = 'invoke_mode RESPONSE_STREAM does not support proxy_url: streaming routes call Lambda directly';

/** The reason every request of `route` would fail, or undefined when it can be invoked. */
export function routeProblemOf(route: RouteProblemInput, env: NodeJS.ProcessEnv): RouteProblem | undefined {
  const region = resolveRegion(route, env);
  if (region === undefined) return { field: 'aws_region', kind: 'no_region', reason: NO_REGION_REASON };
  const arnRegion = regionOfFunctionArn(route.function_name);
  if (arnRegion !== undefined && arnRegion !== region) {
    // Lambda refuses a request signed for one region at another region's function.
    return { field: 'function_name', kind: 'config', reason: `the function ARN is in ${arnRegion} but the route signs for ${region} (from ${regionSource(route, env)})` };
  }
  // The streaming path runs on undici alone; the SDK's proxy agents do not reach it.
  if (route.invoke_mode === 'RESPONSE_STREAM' && route.proxy_url !== undefined) return { field: 'proxy_url', kind: 'config', reason: STREAM_PROXY_REASON };
  return undefined;
}

/** Every route's problem, with its field path as the schema's problems have. */
export function routeProblems(routes: readonly RouteProblemInput[], env: NodeJS.ProcessEnv): ConfigProblem[] {
  return routes.flatMap((route, index) => {
    const problem = routeProblemOf(route, env);
    return problem === undefined ? [] : [{ path: `routes[${index}].${problem.field}`, message: problem.reason }];
  });
}

// The first of resolveRegion's sources that gave the region (a full ARN cannot disagree with itself).
function regionSource(route: RegionInput, env: NodeJS.ProcessEnv): string {
  if (route.aws_region !== undefined && route.aws_region !== '') return 'aws_region';
  if (env.AWS_REGION !== undefined && env.AWS_REGION !== '') return 'AWS_REGION';
  if (env.AWS_DEFAULT_REGION !== undefined && env.AWS_DEFAULT_REGION !== '') return 'AWS_DEFAULT_REGION';
  return 'host';
}
