// The shipped Envoy configs (envoy/envoy.yaml for Kubernetes, envoy.compose.yaml
// for docker compose): every field checked against Envoy's published API
// protos, and every port, name and timeout against lambda-extproc's code and
// its shipped sidecar configs. No Envoy binary is needed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import protobuf from 'protobufjs';
import { parse } from 'yaml';
import { formatProblems, parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';

const ROOT = join(__dirname, '..', '..');
const ENVOY_DEPS = join(ROOT, 'node_modules', '@grpc', 'grpc-js-xds', 'deps');
const INCLUDES = [...['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((dir) => join(ENVOY_DEPS, dir)), join(ROOT, 'node_modules', 'protobufjs')];

// Fields newer than the copy of Envoy's API in @grpc/grpc-js-xds, checked by
// hand against envoyproxy/envoy api/ (ext_proc.proto) at the version named.
const NEWER_THAN_PUBLISHED: Record<string, string> = {
  'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor.status_on_error': 'type.v3.HttpStatus, field 24 (Envoy 1.35+)',
};

// Enum values newer than that copy, checked the same way.
const NEWER_ENUM_VALUES: Record<string, string> = {
  'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode.FULL_DUPLEX_STREAMED': 'value 4 (Envoy 1.33+)',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const FILES = { kubernetes: 'envoy/envoy.yaml', compose: 'envoy/envoy.compose.yaml' } as const;
const SIDECAR = { kubernetes: 'config/kubernetes.yaml', compose: 'config/docker-compose.yaml' } as const;
const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc';
const EXT_PROC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
const PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';
const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const envoyConfig = (file: string) => parse(read(file)) as Obj;
function sidecarConfig(file: string): Config {
  const loaded = parseConfig(read(file), {});
  if (!loaded.ok) throw new Error(`${file}:\n${formatProblems(loaded.problems)}`);
  return loaded.config;
}

// --- Envoy's API, loaded from its published protos --------------------------

function loadEnvoyApi(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => INCLUDES.map((dir) => join(dir, target)).find((candidate) => existsSync(candidate)) ?? target;
  root.loadSync(
    [
      'envoy/config/bootstrap/v3/bootstrap.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
      'envoy/extensions/access_loggers/stream/v3/stream.proto',
    ],
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

const WRAPPERS: Record<string, string> = {
  DoubleValue: 'number', FloatValue: 'number', Int64Value: 'integer', UInt64Value: 'integer', Int32Value: 'integer',
  UInt32Value: 'integer', BoolValue: 'boolean', StringValue: 'string', BytesValue: 'string',
};
const SCALARS: Record<string, string> = {
  double: 'number', float: 'number', int32: 'integer', int64: 'integer', uint32: 'integer', uint64: 'integer', sint32: 'integer',
  sint64: 'integer', fixed32: 'integer', fixed64: 'integer', sfixed32: 'integer', sfixed64: 'integer', bool: 'boolean', string: 'string', bytes: 'string',
};

/**
 * Checks a YAML value against a proto message the way Envoy's loader does
 * (proto3 JSON with the original field names): unknown fields, wrong kinds,
 * unknown enum names, two members of one oneof, and `Any` payloads by @type.
 */
function validate(root: protobuf.Root, type: protobuf.Type, value: Json, path: string, problems: string[], anyTypes: string[]): void {
  const fullName = type.fullName.slice(1);
  if (fullName === 'google.protobuf.Duration') {
    if (typeof value !== 'string' || !/^-?\d+(\.\d+)?s$/.test(value)) problems.push(`${path}: Duration must look like "30s", got ${JSON.stringify(value)}`);
    return;
  }
  if (fullName === 'google.protobuf.Struct' || fullName === 'google.protobuf.Value') return;
  if (fullName.startsWith('google.protobuf.') && WRAPPERS[type.name] !== undefined) return checkScalar(WRAPPERS[type.name]!, value, path, problems);
  if (!isObj(value)) return void problems.push(`${path}: expected a ${fullName} object`);
  if (fullName === 'google.protobuf.Any') {
    const url = value['@type'];
    const target = typeof url === 'string' && url.startsWith('type.googleapis.com/') ? root.lookup(url.slice('type.googleapis.com/'.length)) : null;
    if (!(target instanceof protobuf.Type)) return void problems.push(`${path}: unknown @type ${JSON.stringify(url)}`);
    anyTypes.push(target.fullName.slice(1));
    const { ['@type']: _ignored, ...rest } = value;
    return validate(root, target, rest, path, problems, anyTypes);
  }
  const oneofs = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = type.fields[key];
    const where = `${path}.${key}`;
    if (field === undefined) {
      if (NEWER_THAN_PUBLISHED[`${fullName}.${key}`] === undefined) problems.push(`${where}: no field "${key}" in ${fullName}`);
      continue;
    }
    const oneof = field.partOf?.name;
    if (oneof !== undefined) {
      if (oneofs.has(oneof)) problems.push(`${where}: oneof ${oneof} already set by ${oneofs.get(oneof)}`);
      oneofs.set(oneof, key);
    }
    field.resolve();
    if (field.map) {
      if (!isObj(item)) problems.push(`${where}: expected a map`);
      else for (const [mapKey, entry] of Object.entries(item)) validateField(root, field, entry, `${where}[${mapKey}]`, problems, anyTypes);
    } else if (field.repeated) {
      if (!Array.isArray(item)) problems.push(`${where}: expected a list`);
      else item.forEach((entry, index) => validateField(root, field, entry, `${where}[${index}]`, problems, anyTypes));
    } else {
      validateField(root, field, item, where, problems, anyTypes);
    }
  }
}

function validateField(root: protobuf.Root, field: protobuf.Field, value: Json, path: string, problems: string[], anyTypes: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return validate(root, resolved, value, path, problems, anyTypes);
  if (resolved instanceof protobuf.Enum) {
    const known = typeof value === 'string' && (resolved.values[value] !== undefined || NEWER_ENUM_VALUES[`${resolved.fullName.slice(1)}.${value}`] !== undefined);
    if (typeof value === 'string' ? !known : !Number.isInteger(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not a value of ${resolved.fullName.slice(1)}`);
    }
    return;
  }
  checkScalar(SCALARS[field.type] ?? 'unknown', value, path, problems);
}

function checkScalar(kind: string, value: Json, path: string, problems: string[]): void {
  const ok = kind === 'integer' ? Number.isInteger(value) || (typeof value === 'string' && /^\d+$/.test(value)) : typeof value === kind;
  if (!ok) problems.push(`${path}: expected ${kind}, got ${JSON.stringify(value)}`);
}

function isObj(value: Json | undefined): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// --- navigation helpers -------------------------------------------------------

const at = (value: Json | undefined, ...path: Array<string | number>): Json | undefined =>
  path.reduce<Json | undefined>((node, key) => (node === undefined || node === null ? undefined : (node as Record<string | number, Json>)[key]), value);

function connectionManager(config: Obj): Obj {
  return at(config, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Obj;
}
function httpFilters(config: Obj): Obj[] {
  return at(connectionManager(config), 'http_filters') as Obj[];
}
function extProc(config: Obj): Obj {
  return httpFilters(config).find((f) => f.name === EXT_PROC_FILTER)!.typed_config as Obj;
}
function routes(config: Obj): Obj[] {
  return at(connectionManager(config), 'route_config', 'virtual_hosts', 0, 'routes') as Obj[];
}
function clusters(config: Obj): Obj[] {
  return at(config, 'static_resources', 'clusters') as Obj[];
}
function perRoute(route: Obj): Obj | undefined {
  return at(route, 'typed_per_filter_config', EXT_PROC_FILTER) as Obj | undefined;
}
function durationMs(value: Json | undefined): number {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(String(value));
  if (match === null) throw new Error(`not a duration: ${String(value)}`);
  return Math.round(Number(match[1]) * 1000);
}
function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

// --- tests -------------------------------------------------------------------

const api = loadEnvoyApi();
const Bootstrap = api.lookupType('envoy.config.bootstrap.v3.Bootstrap');

for (const [variant, file] of Object.entries(FILES)) {
  t.test(`${file}: every field exists in Envoy's API with the right kind`, async (t) => {
    const problems: string[] = [];
    const anyTypes: string[] = [];
    validate(api, Bootstrap, envoyConfig(file), '(bootstrap)', problems, anyTypes);
    t.same(problems, [], 'no unknown field, wrong kind, bad enum or double oneof');
    for (const typeName of [
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
      'envoy.extensions.filters.http.router.v3.Router',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    ]) {
      t.ok(anyTypes.includes(typeName), `${typeName} was reached and checked`);
    }
  });

  t.test(`${file}: the validator rejects what Envoy would reject (${variant})`, async (t) => {
    const broken = envoyConfig(file);
    const filter = extProc(broken);
    filter.message_timout = '30s';
    (filter.processing_mode as Obj).request_body_mode = 'BUFFER';
    filter.max_message_timeout = 120;
    const problems: string[] = [];
    validate(api, Bootstrap, broken, '(bootstrap)', problems, []);
    t.match(problems.join('\n'), /no field "message_timout"/);
    t.match(problems.join('\n'), /"BUFFER" is not a value of envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode/);
    t.match(problems.join('\n'), /max_message_timeout: Duration must look like "30s"/);
  });

  t.test(`${file}: ext_proc filter sends request headers and the buffered body, fails closed`, async (t) => {
    const config = envoyConfig(file);
    const filters = httpFilters(config);
    t.equal(filters[0]?.name, EXT_PROC_FILTER, 'ext_proc runs first');
    t.equal(filters.at(-1)?.name, 'envoy.filters.http.router', 'router last');
    const filter = extProc(config);
    t.equal(filter['@type'], EXT_PROC_TYPE);
    t.match(filter.processing_mode, { request_header_mode: 'SEND', response_header_mode: 'SKIP', request_body_mode: 'BUFFERED' });
    t.equal(filter.failure_mode_allow, false, 'fail closed');
    t.ok(Array.isArray(filter.request_attributes) && filter.request_attributes.includes('xds.route_name'), 'sends xds.route_name');
    t.ok(Array.isArray(filter.request_attributes) && filter.request_attributes.includes('request.protocol'), 'sends request.protocol for API Gateway events');
    t.ok(Array.isArray(filter.request_attributes) && filter.request_attributes.includes('source.address'), 'sends source.address: the only source of sourceIp in API Gateway events');
    // Without it Envoy takes source.address from the last X-Forwarded-For entry, which the client writes.
    t.equal(connectionManager(config).use_remote_address, true, 'source.address is the TCP peer, not a client-written header');
    const status = at(filter, 'status_on_error', 'code');
    t.ok(typeof status === 'number' && status >= 500 && status <= 599, 'status_on_error is a 5xx');
    t.notOk(filter.allow_mode_override, 'no mode_override needed with BUFFERED');
  });

  t.test(`${file}: message_timeout equals the sidecar's envoy_message_timeout; max_message_timeout admits every override`, async (t) => {
    const filter = extProc(envoyConfig(file));
    const sidecar = sidecarConfig(SIDECAR[variant as keyof typeof SIDECAR]);
    const messageTimeout = durationMs(filter.message_timeout);
    const maxTimeout = durationMs(filter.max_message_timeout);
    t.equal(messageTimeout, sidecar.envoy_message_timeout, 'the override is timed against the real timer');
    t.ok(messageTimeout > 200, "above Envoy's 200 ms default");
    t.ok(maxTimeout > 0, 'override_message_timeout enabled');
    for (const route of sidecar.routes) {
      // The server asks for the route's timeout plus one second (src/extproc/stream.ts).
      t.ok(route.timeout + 1000 <= maxTimeout, `route ${route.name}: override of ${route.timeout + 1000} ms within max_message_timeout ${maxTimeout} ms`);
    }
  });

  t.test(`${file}: buffer limit holds a 6 MiB Lambda payload and fits the sidecar's max_message_bytes`, async (t) => {
    const config = envoyConfig(file);
    const sidecar = sidecarConfig(SIDECAR[variant as keyof typeof SIDECAR]);
    const listenerLimit = at(config, 'static_resources', 'listeners', 0, 'per_connection_buffer_limit_bytes') as number;
    t.ok(listenerLimit >= LAMBDA_PAYLOAD_LIMIT, `${listenerLimit} >= 6 MiB`);
    t.ok(listenerLimit + 64 * 1024 <= sidecar.max_message_bytes, 'a full body plus 64 KiB of headers fits one gRPC message');
    const cluster = clusters(config).find((c) => c.name === 'lambda_extproc')!;
    t.ok((cluster.per_connection_buffer_limit_bytes as number) >= sidecar.max_message_bytes, 'the gRPC connection can carry the largest message');
  });

  t.test(`${file}: the ext_proc cluster is HTTP/2 to the sidecar's listen port`, async (t) => {
    const config = envoyConfig(file);
    const clusterName = at(extProc(config), 'grpc_service', 'envoy_grpc', 'cluster_name');
    const cluster = clusters(config).find((c) => c.name === clusterName);
    t.ok(cluster, `cluster ${String(clusterName)} is defined`);
    t.equal(clusterName, 'lambda_extproc');
    t.same(at(cluster, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions', 'explicit_http_config'), { http2_protocol_options: {} }, 'gRPC needs HTTP/2');
    t.equal(at(cluster, 'load_assignment', 'cluster_name'), clusterName);
    const address = at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address') as Obj;
    const sidecar = sidecarConfig(SIDECAR[variant as keyof typeof SIDECAR]);
    t.equal(address.port_value, listenPort(sidecar.listen), "the sidecar's listen port");
    if (variant === 'kubernetes') {
      t.equal(address.address, '127.0.0.1', 'same Pod: loopback');
      t.equal(sidecar.listen, '127.0.0.1:50051', 'the sidecar keeps its pod-local default');
      t.equal(cluster!.type, 'STATIC');
    } else {
      const compose = parse(read('docker-compose.yml')) as Obj;
      t.ok(at(compose, 'services', String(address.address)), `"${String(address.address)}" is a compose service`);
      t.equal(sidecar.listen, '0.0.0.0:50051', 'reachable from the Envoy container');
      t.equal(cluster!.type, 'STRICT_DNS', 'resolves the service name');
    }
  });

  t.test(`${file}: listener on :8000 with a Lambda route per function, a fallback and ext_proc off elsewhere`, async (t) => {
    const config = envoyConfig(file);
    t.equal(at(config, 'static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'), 8000);
    const sidecar = sidecarConfig(SIDECAR[variant as keyof typeof SIDECAR]);
    const filterNames = new Set(httpFilters(config).map((f) => f.name));
    const all = routes(config);
    for (const route of all) {
      for (const key of Object.keys((route.typed_per_filter_config as Obj | undefined) ?? {})) {
        t.ok(filterNames.has(key), `route ${String(route.name)}: per-filter config key ${key} names an http filter`);
      }
    }
    const healthz = all.find((r) => at(r, 'match', 'path') === '/healthz');
    t.equal(at(healthz, 'direct_response', 'status'), 200, '/healthz answered by Envoy');
    t.same(perRoute(healthz!), { '@type': PER_ROUTE_TYPE, disabled: true }, 'no gRPC stream for /healthz');
    const lambdaRoutes = all.filter((r) => perRoute(r)?.overrides !== undefined);
    t.ok(lambdaRoutes.length >= 1, 'at least one Lambda route');
    for (const route of lambdaRoutes) {
      const metadata = at(perRoute(route), 'overrides', 'grpc_initial_metadata') as Obj[];
      const selected = metadata.find((m) => m.key === 'x-lambda-extproc-route')?.value;
      t.ok(sidecar.routes.some((r) => r.name === selected), `x-lambda-extproc-route "${String(selected)}" is a sidecar route`);
      t.equal(route.name, selected, 'the Envoy route name (xds.route_name) agrees with the metadata');
      const status = at(route, 'direct_response', 'status') as number;
      t.ok(status >= 500, `route ${String(route.name)}: direct_response fallback says the sidecar did not answer (${status})`);
    }
    for (const route of sidecar.routes) {
      t.ok(lambdaRoutes.some((r) => r.name === route.name), `sidecar route ${route.name} has an Envoy route`);
    }
    const last = all.at(-1)!;
    t.equal(at(last, 'match', 'prefix'), '/', 'a catch-all route last');
    t.equal(perRoute(last)?.disabled, true, 'no gRPC stream for paths that are not Lambda routes');
  });

  t.test(`${file}: streaming routes get the body as it arrives and fail closed; buffered routes keep the filter's mode`, async (t) => {
    const config = envoyConfig(file);
    const filter = extProc(config);
    const sidecar = sidecarConfig(SIDECAR[variant as keyof typeof SIDECAR]);
    const streaming = sidecar.routes.filter((r) => r.invoke_mode === 'RESPONSE_STREAM');
    t.ok(streaming.length >= 1, 'the shipped configs carry a streaming route example');
    const byName = new Map(routes(config).map((r) => [r.name, r]));
    for (const route of sidecar.routes) {
      const overrides = at(perRoute(byName.get(route.name)!), 'overrides') as Obj;
      if (route.invoke_mode === 'RESPONSE_STREAM') {
        // streamed_immediate_response is refused in BUFFERED modes; FULL_DUPLEX_STREAMED needs trailers sent.
        t.same(
          overrides.processing_mode,
          { request_header_mode: 'SEND', response_header_mode: 'SKIP', request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'NONE', request_trailer_mode: 'SEND', response_trailer_mode: 'SKIP' },
          `route ${route.name}: FULL_DUPLEX_STREAMED with request trailers`,
        );
        t.notOk('failure_mode_allow' in overrides, `route ${route.name}: failure_mode_allow not overridden (failing open could end a cut stream as complete)`);
        t.ok(route.timeout + 1000 <= durationMs(filter.max_message_timeout), `route ${route.name}: its ${route.timeout} ms stream timeout fits max_message_timeout`);
        t.ok(durationMs(connectionManager(config).stream_idle_timeout) >= 60_000, 'stream_idle_timeout (the only timer between streamed chunks) is stated and not short');
      } else {
        t.notOk('processing_mode' in overrides, `route ${route.name}: buffered, the filter's BUFFERED mode`);
      }
    }
    t.equal(filter.failure_mode_allow, false, 'the filter fails closed');
    t.match(read(file), /needs Envoy 1\.37 or later/, 'states the Envoy version streaming routes need');
  });

  t.test(`${file}: graceful gRPC close is on through a static runtime layer`, async (t) => {
    const layers = at(envoyConfig(file), 'layered_runtime', 'layers') as Obj[];
    const statics = layers.filter((layer) => layer.static_layer !== undefined);
    t.equal(statics.length, 1);
    t.equal(at(statics[0], 'static_layer', 'envoy.reloadable_features.ext_proc_graceful_grpc_close'), true);
    t.match(read(file), /rapid-reset/, 'says why');
  });

  t.test(`${file}: admin interface stays on loopback`, async (t) => {
    t.equal(at(envoyConfig(file), 'admin', 'address', 'socket_address', 'address'), '127.0.0.1');
  });
}

t.test('envoy.compose.yaml differs from envoy.yaml only in how the sidecar is addressed', async (t) => {
  const kubernetes = envoyConfig(FILES.kubernetes);
  const compose = envoyConfig(FILES.compose);
  const strip = (config: Obj) => {
    const cluster = clusters(config).find((c) => c.name === 'lambda_extproc')!;
    delete cluster.type;
    (at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address') as Obj).address = '<sidecar>';
    return config;
  };
  t.same(strip(compose), strip(kubernetes));
});
