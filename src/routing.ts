// Picks the route for a request: Envoy's per-route metadata, then Envoy's own
// route name, then the first `match` that fits. Matchers are compiled once.
import type { RouteConfig, RouteMatch } from './config/schema';

export interface MatchResult {
  /** Named captures of path_regex, or the {params} of path_template. */
  readonly pathParameters: Readonly<Record<string, string>>;
  /** API Gateway `resource`: the template, or the matched path spec. */
  readonly resource: string;
}

export interface CompiledRoute {
  readonly config: RouteConfig;
  /** Undefined when the path or method does not fit (or the route has no match). */
  match(pathname: string, method: string): MatchResult | undefined;
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  readonly byName: ReadonlyMap<string, CompiledRoute>;
}

export interface RouteHints {
  /** gRPC initial metadata x-lambda-extproc-route. */
  readonly metadataRoute: string | undefined;
  /** attributes["envoy.filters.http.ext_proc"]["xds.route_name"]. */
  readonly xdsRouteName: string | undefined;
  readonly method: string;
  readonly pathname: string;
}

export type Selection =
  | { readonly kind: 'route'; readonly route: CompiledRoute; readonly match: MatchResult; readonly via: 'metadata' | 'xds_route_name' | 'match' }
  | { readonly kind: 'none' }
  | { readonly kind: 'unknown'; readonly name: string };

export function compileRoutes(routes: readonly RouteConfig[]): RouteTable {
  const compiled = routes.map(compileRoute);
  return { routes: compiled, byName: new Map(compiled.map((route) => [route.config.name, route])) };
}

export function selectRoute(table: RouteTable, hints: RouteHints): Selection {
  if (hints.metadataRoute !== undefined) {
    const route = table.byName.get(hints.metadataRoute);
    // A name from Envoy's per-route config that we lack is a deployment mistake.
    if (route === undefined) return { kind: 'unknown', name: hints.metadataRoute };
    return { kind: 'route', route, match: matchByName(route, hints), via: 'metadata' };
  }
  if (hints.xdsRouteName !== undefined) {
    // Most Envoy routes are not Lambda routes: an unknown name is not an error.
    const route = table.byName.get(hints.xdsRouteName);
    if (route !== undefined) return { kind: 'route', route, match: matchByName(route, hints), via: 'xds_route_name' };
  }
  for (const route of table.routes) {
    const match = route.match(hints.pathname, hints.method);
    if (match !== undefined) return { kind: 'route', route, match, via: 'match' };
  }
  return { kind: 'none' };
}

function matchByName(route: CompiledRoute, hints: RouteHints): MatchResult {
  return route.match(hints.pathname, hints.method) ?? { pathParameters: {}, resource: resourceOf(route.config.match) ?? hints.pathname };
}

function compileRoute(config: RouteConfig): CompiledRoute {
  const spec = config.match;
  if (spec === undefined) return { config, match: () => undefined };
  const methods = spec.methods === undefined ? undefined : new Set(spec.methods);
  const matchPath = compilePath(spec);
  return {
    config,
    match(pathname, method) {
      if (methods !== undefined && !methods.has(method)) return undefined;
      return matchPath(pathname);
    },
  };
}

function compilePath(spec: RouteMatch): (pathname: string) => MatchResult | undefined {
  const resource = resourceOf(spec) ?? '/';
  const none: MatchResult = { pathParameters: {}, resource };
  if (spec.path !== undefined) {
    const path = spec.path;
    return (pathname) => (pathname === path ? none : undefined);
  }
  if (spec.path_prefix !== undefined) {
    const prefix = spec.path_prefix;
    return (pathname) => (pathname.startsWith(prefix) ? none : undefined);
  }
  if (spec.path_template !== undefined) {
    const { regex, names } = compileTemplate(spec.path_template);
    return (pathname) => {
      const found = regex.exec(pathname);
      if (found === null) return undefined;
      const pathParameters: Record<string, string> = {};
      names.forEach((name, index) => {
        pathParameters[name] = decodeSegment(found[index + 1] ?? '');
      });
      return { pathParameters, resource };
    };
  }
  // The whole path, as Envoy's safe_regex matches: `/private/1` must not reach `/public/x/private/1`.
  const regex = new RegExp(`^(?:${spec.path_regex ?? ''})$`);
  return (pathname) => {
    const found = regex.exec(pathname);
    if (found === null) return undefined;
    const pathParameters: Record<string, string> = {};
    for (const [name, value] of Object.entries(found.groups ?? {})) if (value !== undefined) pathParameters[name] = value;
    return { pathParameters, resource };
  };
}

function resourceOf(spec: RouteMatch | undefined): string | undefined {
  if (spec === undefined) return undefined;
  return spec.path_template ?? spec.path ?? spec.path_prefix ?? spec.path_regex;
}

// `/site/{slug}` matches one segment, `{proxy+}` the rest of the path.
function compileTemplate(template: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template.replace(/\{([^{}]+?)(\+?)\}|([^{}]+)/g, (_whole, name: string | undefined, greedy: string, literal: string | undefined) => {
    if (literal !== undefined) return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    names.push(name ?? '');
    return greedy === '+' ? '(.+)' : '([^/]+)';
  });
  return { regex: new RegExp(`^${source}$`), names };
}

function decodeSegment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
