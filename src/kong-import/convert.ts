// decK entities → lambda-extproc routes. Every Kong route that an enabled
// aws-lambda plugin reaches (route > service > global, as in Kong) becomes
// one route per path; whatever cannot be carried over becomes a note.
import { defaultsSchema, routeSchema } from '../config/schema';
import { isRecord, recordsOf, referenceOf, stringOf, stringsOf, type DeckRecord } from './read-deck';

export interface ImportNote {
  /** Which decK entity, e.g. `route lambda1` or `plugin key-auth (global)`. */
  readonly where: string;
  readonly message: string;
}

export type ImportedRoute = Record<string, unknown> & { name: string };

export interface KongImport {
  readonly routes: ImportedRoute[];
  readonly notes: ImportNote[];
}

const ROUTE_FIELDS = new Set(Object.keys(defaultsSchema.shape));
// Our defaults, so fields equal to them can be left out of the output.
const OUR_DEFAULTS: Readonly<Record<string, unknown>> = routeSchema.parse({ name: 'defaults', function_name: 'defaults' });
// Where Kong's default differs from ours, and what it means for the client.
const KONG_DEFAULTS_WE_CHANGE: Readonly<Record<string, { value: unknown; why: string }>> = {
  log_type: { value: 'Tail', why: 'Kong defaults to Tail (function logs sent to every client in X-Amz-Log-Result); lambda-extproc defaults to None. Set log_type: Tail to keep Kong behaviour' },
  empty_arrays_mode: { value: 'legacy', why: 'Kong defaults to legacy ([] in function output rewritten to {}); lambda-extproc passes the bytes through. Set empty_arrays_mode: legacy to keep Kong behaviour' },
};
const KNOWN_TOP_LEVEL = new Set(['_format_version', '_transform', '_info', '_workspace', '_konnect', 'services', 'routes', 'plugins']);
const ROUTE_KEYS_HANDLED = new Set(['id', 'name', 'service', 'paths', 'methods', 'plugins', 'tags', 'created_at', 'updated_at', 'regex_priority', 'protocols', 'strip_path', 'preserve_host', 'path_handling', 'request_buffering', 'response_buffering', 'https_redirect_status_code']);
const ROUTE_KEYS_UNMAPPABLE = ['hosts', 'headers', 'snis', 'sources', 'destinations', 'expression', 'priority'];
const NAME_CHARS = /[^A-Za-z0-9_.:-]/g;
const HTTP_METHOD = /^[A-Z]+$/;

type Scope = 'route' | 'service' | 'global';

interface ScopedPlugin {
  readonly plugin: DeckRecord;
  readonly scope: Scope;
  /** Route or service reference, for the scoped ones. */
  readonly owner: string | undefined;
}

interface KongRoute {
  readonly route: DeckRecord;
  readonly service: DeckRecord | undefined;
  readonly label: string;
  readonly index: number;
}

export function convertDeck(deck: DeckRecord): KongImport {
  const notes: ImportNote[] = [];
  const note = (where: string, message: string): void => {
    notes.push({ where, message });
  };
  for (const key of Object.keys(deck)) {
    if (KNOWN_TOP_LEVEL.has(key)) continue;
    const count = Array.isArray(deck[key]) ? ` (${(deck[key] as unknown[]).length})` : '';
    note(key, `not imported${count}: lambda-extproc has no ${key}; Envoy or your platform must provide them`);
  }
  const services = recordsOf(deck.services);
  const serviceByRef = new Map<string, DeckRecord>();
  for (const service of services) for (const ref of [stringOf(service.name), stringOf(service.id)]) if (ref !== undefined) serviceByRef.set(ref, service);

  const routes: KongRoute[] = [];
  const plugins: ScopedPlugin[] = [];
  services.forEach((service, s) => {
    const serviceRef = referenceOf(service) ?? `services[${s}]`;
    for (const plugin of recordsOf(service.plugins)) plugins.push(scopePlugin(plugin, { scope: 'service', owner: serviceRef }));
    recordsOf(service.routes).forEach((route) => routes.push({ route, service, label: labelOf(route, routes.length), index: routes.length }));
  });
  for (const route of recordsOf(deck.routes)) {
    const ref = referenceOf(route.service);
    const service = ref === undefined ? undefined : serviceByRef.get(ref);
    if (ref !== undefined && service === undefined) note(`route ${labelOf(route, routes.length)}`, `service "${ref}" is not in the file`);
    routes.push({ route, service, label: labelOf(route, routes.length), index: routes.length });
  }
  for (const { route, label } of routes) {
    for (const plugin of recordsOf(route.plugins)) plugins.push(scopePlugin(plugin, { scope: 'route', owner: referenceOf(route) ?? label }));
  }
  for (const plugin of recordsOf(deck.plugins)) plugins.push(scopePlugin(plugin, undefined));

  // Plugins other than aws-lambda, and consumer-scoped ones, have no equivalent here.
  const lambdaPlugins: ScopedPlugin[] = [];
  for (const scoped of plugins) {
    const where = pluginLabel(scoped);
    if (referenceOf(scoped.plugin.consumer) !== undefined) {
      note(where, 'scoped to a consumer: not imported, lambda-extproc has no consumers');
    } else if (scoped.plugin.name !== 'aws-lambda') {
      note(where, 'not imported: configure the equivalent Envoy filter');
    } else if (scoped.plugin.enabled === false) {
      note(where, 'disabled (enabled: false): ignored, as Kong ignores it');
    } else {
      lambdaPlugins.push(scoped);
    }
  }

  const pluginFor = (entry: KongRoute): ScopedPlugin | undefined => {
    const routeRefs = new Set([stringOf(entry.route.name), stringOf(entry.route.id), entry.label].filter((v): v is string => v !== undefined));
    const serviceRefs = new Set(entry.service === undefined ? [] : [stringOf(entry.service.name), stringOf(entry.service.id)].filter((v): v is string => v !== undefined));
    const nested = recordsOf(entry.route.plugins);
    return (
      lambdaPlugins.find((p) => p.scope === 'route' && (nested.includes(p.plugin) || (p.owner !== undefined && routeRefs.has(p.owner)))) ??
      lambdaPlugins.find((p) => p.scope === 'service' && p.owner !== undefined && serviceRefs.has(p.owner)) ??
      lambdaPlugins.find((p) => p.scope === 'global')
    );
  };

  // Each plugin's config is converted (and its notes made) once, however many routes it serves.
  const fieldsByPlugin = new Map<DeckRecord, Record<string, unknown>>();
  const fieldsOf = (scoped: ScopedPlugin): Record<string, unknown> => {
    let fields = fieldsByPlugin.get(scoped.plugin);
    if (fields === undefined) {
      fields = pluginFields(isRecord(scoped.plugin.config) ? scoped.plugin.config : {}, pluginLabel(scoped), note);
      fieldsByPlugin.set(scoped.plugin, fields);
    }
    return fields;
  };
  const out: Array<{ route: ImportedRoute; order: number[] }> = [];
  const usedNames = new Set<string>();
  for (const entry of routes) {
    const where = `route ${entry.label}`;
    const scoped = pluginFor(entry);
    if (scoped === undefined) {
      note(where, 'no aws-lambda plugin applies: not imported (lambda-extproc answers CONTINUE and Envoy proxies it)');
      continue;
    }
    if (entry.service?.enabled === false) {
      note(where, 'its service is disabled (enabled: false): not imported');
      continue;
    }
    const protocols = stringsOf(entry.route.protocols);
    if (protocols.length > 0 && !protocols.some((p) => p === 'http' || p === 'https')) {
      note(where, `protocols [${protocols.join(', ')}] are not HTTP: not imported`);
      continue;
    }
    if (protocols.length > 0 && !protocols.includes('http')) note(where, 'protocols [https] only: Kong refused or redirected plain HTTP; enforce that in Envoy');
    const fields = fieldsOf(scoped);
    if (fields.function_name === undefined) {
      note(where, 'the aws-lambda plugin has no function_name (Kong answers 500 to every request): not imported');
      continue;
    }
    for (const key of ROUTE_KEYS_UNMAPPABLE) {
      const value = entry.route[key];
      const present = Array.isArray(value) ? value.length > 0 : isRecord(value) ? Object.keys(value).length > 0 : value !== undefined && value !== null;
      if (present) note(where, `${key} ${JSON.stringify(value)} not mapped: lambda-extproc matches path and method only; restrict it in Envoy's route (and select this route by name)`);
    }
    for (const key of Object.keys(entry.route)) {
      if (!ROUTE_KEYS_HANDLED.has(key) && !ROUTE_KEYS_UNMAPPABLE.includes(key)) note(where, `field ${key} not imported`);
    }
    if (entry.route.strip_path !== false) {
      const message = fields.awsgateway_compatible === true
        ? "strip_path: Kong's API Gateway event carries the path after stripping; lambda-extproc sends the client's path"
        : 'strip_path has no effect on a Lambda route (there is no upstream)';
      note(where, message);
    }
    const methods = stringsOf(entry.route.methods).map((m) => m.toUpperCase());
    const badMethods = methods.filter((m) => !HTTP_METHOD.test(m));
    if (badMethods.length > 0) note(where, `methods ${badMethods.join(', ')} dropped: not HTTP method names`);
    const goodMethods = methods.filter((m) => HTTP_METHOD.test(m));
    const methodMatch = goodMethods.length > 0 ? { methods: goodMethods } : {};
    const paths = stringsOf(entry.route.paths);
    const hasOtherMatchers = ROUTE_KEYS_UNMAPPABLE.some((key) => entry.route[key] !== undefined && entry.route[key] !== null);
    const priority = typeof entry.route.regex_priority === 'number' ? entry.route.regex_priority : 0;
    const base = uniqueName(baseNameOf(entry, where, note), usedNames);
    if (paths.length === 0) {
      // A route without paths matches every path in Kong, unless hosts etc. narrow it: those we cannot see.
      const route: ImportedRoute = hasOtherMatchers ? { name: base, ...fields } : { name: base, match: { path_prefix: '/', ...methodMatch }, ...fields };
      if (hasOtherMatchers) note(where, `no paths: imported without match, so only Envoy selects it (x-lambda-extproc-route: ${base}, or an Envoy route named ${base})`);
      out.push({ route, order: hasOtherMatchers ? [3, 0, entry.index] : [2, 1, -goodMethods.length, entry.index] });
      continue;
    }
    if (paths.length > 1) note(where, `${paths.length} paths: one lambda-extproc route per path (${paths.map((_p, i) => `${base}-${i + 1}`).join(', ')})`);
    paths.forEach((path, i) => {
      const name = paths.length === 1 ? base : uniqueName(`${base}-${i + 1}`, usedNames);
      if (path.startsWith('~')) {
        const regex = toJsRegex(path.slice(1));
        if (regex === undefined) {
          note(where, `regex path ${JSON.stringify(path)} is not a valid JavaScript regular expression: not imported`);
          return;
        }
        out.push({ route: { name, match: { path_regex: regex, ...methodMatch }, ...fields }, order: [0, -priority, -goodMethods.length, entry.index, i] });
        return;
      }
      out.push({ route: { name, match: { path_prefix: path, ...methodMatch }, ...fields }, order: [1, -path.length, -goodMethods.length, entry.index, i] });
    });
  }
  // Our routes match first-wins in file order: order them as Kong's router
  // evaluates, regex paths by regex_priority, then the longest prefix first.
  out.sort((a, b) => compareOrder(a.order, b.order));
  return { routes: out.map((o) => o.route), notes };
}

function scopePlugin(plugin: DeckRecord, nestedIn: { scope: Scope; owner: string } | undefined): ScopedPlugin {
  if (nestedIn !== undefined) return { plugin, scope: nestedIn.scope, owner: nestedIn.owner };
  const route = referenceOf(plugin.route);
  if (route !== undefined) return { plugin, scope: 'route', owner: route };
  const service = referenceOf(plugin.service);
  if (service !== undefined) return { plugin, scope: 'service', owner: service };
  return { plugin, scope: 'global', owner: undefined };
}

function pluginLabel(scoped: ScopedPlugin): string {
  const consumer = referenceOf(scoped.plugin.consumer);
  const scope = consumer !== undefined ? `consumer ${consumer}` : `${scoped.scope}${scoped.owner === undefined ? '' : ` ${scoped.owner}`}`;
  return `plugin ${stringOf(scoped.plugin.name) ?? '(unnamed)'} (${scope})`;
}

function pluginFields(config: DeckRecord, where: string, note: (where: string, message: string) => void): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    // decK dumps list unset fields as null.
    if (value === null || value === undefined) continue;
    if (!ROUTE_FIELDS.has(key)) {
      note(where, `config.${key} has no lambda-extproc equivalent: dropped`);
      continue;
    }
    if (key === 'log_type' && value === 'Tail') note(where, 'log_type: Tail kept: every client gets the function logs in X-Amz-Log-Result; set None unless clients need them');
    if (JSON.stringify(value) === JSON.stringify(OUR_DEFAULTS[key])) continue;
    fields[key] = value;
  }
  for (const [key, kong] of Object.entries(KONG_DEFAULTS_WE_CHANGE)) {
    if (config[key] === undefined || config[key] === null) note(where, `${key} not set: ${kong.why}`);
  }
  return fields;
}

/**
 * Kong matches a `~` path at the start of the path only (the traditional
 * router's anchored ngx.re.find, `^` prepended by the newer routers): any
 * rest may follow. path_regex must match the whole path, so the import says
 * so: `/x` becomes `/x.*`, an alternation is grouped first (`(?:/a|/b).*`),
 * and a pattern already ending in `$` or `.*` is left as it is. A leading
 * `^` is dropped: the whole-path match anchors it already.
 */
export function toJsRegex(source: string): string | undefined {
  const converted = source.replace(/\(\?P</g, '(?<').replace(/^\^/, '');
  try {
    new RegExp(converted);
  } catch {
    return undefined;
  }
  if (converted.includes('|')) return `(?:${converted}).*`;
  if (endsUnescaped(converted, '$') || endsUnescaped(converted, '.*')) return converted;
  return `${converted}.*`;
}

// True when `source` ends with `tail` and the tail's first character is not escaped.
function endsUnescaped(source: string, tail: string): boolean {
  if (!source.endsWith(tail)) return false;
  let backslashes = 0;
  for (let i = source.length - tail.length - 1; i >= 0 && source[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

function labelOf(route: DeckRecord, index: number): string {
  return stringOf(route.name) ?? stringOf(route.id) ?? `routes[${index}]`;
}

function baseNameOf(entry: KongRoute, where: string, note: (where: string, message: string) => void): string {
  const raw = stringOf(entry.route.name) ?? `${stringOf(entry.service?.name) ?? 'route'}-${entry.index + 1}`;
  const name = raw.replace(NAME_CHARS, '-');
  if (name !== raw) note(where, `renamed to ${name}: route names take letters, digits, _ . : -`);
  else if (stringOf(entry.route.name) === undefined) note(where, `unnamed: imported as ${name}`);
  return name;
}

function uniqueName(name: string, used: Set<string>): string {
  let candidate = name;
  for (let n = 2; used.has(candidate); n++) candidate = `${name}-${n}`;
  used.add(candidate);
  return candidate;
}

function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
