// The one definition of the config file: the validator, the TypeScript types
// and the published JSON Schema all come from these zod schemas.
import { accessSync, constants } from 'node:fs';
import { z } from 'zod';

const hostname = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a hostname without scheme or port');

const httpStatus = z.number().int('must be an integer').min(100, 'value should be between 100 and 999').max(999, 'value should be between 100 and 999');

const absoluteUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.host !== '';
  } catch {
    return false;
  }
}, 'must be a URL with scheme and host');

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port (e.g. 127.0.0.1:50051)');

// Cross-field checks run even when other fields failed, so every problem is
// reported at once; they must therefore tolerate wrongly typed values.
const ALWAYS = { when: () => true };

export const matchSchema = z
  .strictObject({
    path: z.string().startsWith('/', 'must start with /').optional(),
    path_prefix: z.string().startsWith('/', 'must start with /').optional(),
    path_regex: z
      .string()
      .refine((value) => {
        try {
          new RegExp(value);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid regular expression')
      .optional(),
    path_template: z
      .string()
      .regex(/^\/([^{}]*|\{[A-Za-z0-9_.-]+\+?\})*$/, 'must look like /site/{slug} or /api/{proxy+}')
      .optional(),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method')).min(1).optional(),
  })
  .refine(
    (m) => [m.path, m.path_prefix, m.path_regex, m.path_template].filter((v) => v !== undefined).length === 1,
    'set exactly one of path, path_prefix, path_regex, path_template',
  );

/** Every field a route (or `defaults`) may set; Kong's aws-lambda names and defaults. */
const routeFieldShape = {
  timeout: z.number().int().positive().default(60000),
  keepalive: z.number().int().positive().default(60000),
  aws_key: z.string().min(1).optional(),
  aws_secret: z.string().min(1).optional(),
  aws_assume_role_arn: z.string().min(1).optional(),
  aws_role_session_name: z.string().min(1).default('kong'),
  aws_sts_endpoint_url: absoluteUrl.optional(),
  aws_region: hostname.optional(),
  aws_imds_protocol_version: z.enum(['v1', 'v2']).default('v1'),
  function_name: z.string().min(1),
  qualifier: z.string().min(1).optional(),
  invocation_type: z.enum(['RequestResponse', 'Event', 'DryRun']).default('RequestResponse'),
  // AWS's names: RESPONSE_STREAM calls InvokeWithResponseStream and streams through Envoy ≥ 1.37.
  invoke_mode: z.enum(['BUFFERED', 'RESPONSE_STREAM']).default('BUFFERED'),
  // Kong defaults to Tail, which hands function logs to every client.
  log_type: z.enum(['Tail', 'None']).default('None'),
  host: hostname.optional(),
  port: z.number().int().min(0).max(65535).default(443),
  disable_https: z.boolean().default(false),
  proxy_url: absoluteUrl.refine((value) => value.startsWith('http:'), 'proxy_url scheme must be http').optional(),
  unhandled_status: httpStatus.optional(),
  handled_status: httpStatus.optional(),
  preserve_lambda_api_error_code: z.boolean().default(false),
  forward_request_method: z.boolean().default(false),
  forward_request_uri: z.boolean().default(false),
  forward_request_headers: z.boolean().default(false),
  forward_request_body: z.boolean().default(false),
  is_proxy_integration: z.boolean().default(false),
  awsgateway_compatible: z.boolean().default(false),
  awsgateway_compatible_payload_version: z.enum(['1.0', '2.0']).default('1.0'),
  skip_large_bodies: z.boolean().default(true),
  max_body_size: z.number().int().positive().default(6 * 1024 * 1024),
  base64_encode_body: z.boolean().default(true),
  // Bytes pass through unless `legacy` asks for Kong's `[]` -> `{}` rewrite.
  empty_arrays_mode: z.enum(['legacy', 'correct']).default('correct'),
};

export const routeSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'must be letters, digits, _ . : -'),
    match: matchSchema.optional(),
    ...routeFieldShape,
  })
  .superRefine((route, ctx) => {
    if ((route.aws_key === undefined) !== (route.aws_secret === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: "all or none of these fields must be set: 'aws_key', 'aws_secret'",
        path: [route.aws_key === undefined ? 'aws_key' : 'aws_secret'],
      });
    }
    // InvokeWithResponseStream runs a function synchronously only: there is nothing to stream from Event or DryRun.
    if (route.invoke_mode === 'RESPONSE_STREAM' && (route.invocation_type === 'Event' || route.invocation_type === 'DryRun')) {
      ctx.addIssue({ code: 'custom', message: `RESPONSE_STREAM needs invocation_type RequestResponse (not ${route.invocation_type})`, path: ['invoke_mode'] });
    }
  }, ALWAYS);

/** `defaults` takes any route field, none required, no defaults applied yet. */
export const defaultsSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(routeFieldShape).map(([key, schema]) => [key, unwrapDefault(schema).optional()]),
  ) as { [K in keyof typeof routeFieldShape]: z.ZodOptional<z.ZodType<z.output<(typeof routeFieldShape)[K]>>> },
);

function unwrapDefault(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
}

const readableFile = z.string().min(1).refine((file) => {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}, 'file is missing or unreadable');

export const tlsSchema = z.strictObject({
  cert_file: readableFile,
  key_file: readableFile,
  // Set to require and verify client certificates (mTLS).
  client_ca_file: readableFile.optional(),
});

/** One handler file run by `lambda-extproc dev`'s local Lambda runtime (src/dev/). */
export const localFunctionSchema = z.strictObject({
  // Relative to the config file's directory; exports `handler` (ESM or CommonJS).
  handler: z.string().regex(/\.(mjs|cjs|js)$/, 'must be a .mjs, .cjs or .js file'),
  // Lambda's default and largest function timeout (ms).
  timeout: z.number().int().positive().max(900_000).default(3000),
  memory_size: z.number().int().min(128).max(10_240).default(128),
  environment: z.record(z.string(), z.string()).optional(),
});

// Used only by `lambda-extproc dev`, for development and tests; the server ignores it.
export const localLambdaSchema = z.strictObject({
  listen: z.string().regex(/^127\.0\.0\.1:\d{1,5}$/, 'must be 127.0.0.1:PORT: the local Lambda runtime serves loopback only').default('127.0.0.1:9000'),
  functions: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, - or _'), localFunctionSchema),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    listen: listenAddress.default('127.0.0.1:50051'),
    admin: z.strictObject({ listen: listenAddress }).optional(),
    // Reload when the file changes, as SIGHUP does (ConfigMap updates need no signal).
    watch: z.boolean().default(false),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // The request line's path keeps its query string only when true: a query may carry a token.
    log_query: z.boolean().default(false),
    // Envoy's ext_proc message_timeout in ms, so slow invocations can ask for more time.
    envoy_message_timeout: z.number().int().positive().default(200),
    // Mirrors Envoy's allow_mode_override: when Envoy sends no body (request_body_mode NONE), ask it for BUFFERED.
    allow_mode_override: z.boolean().default(false),
    // Below Kubernetes' default 30 s grace period.
    drain_timeout: z.number().int().positive().default(25000),
    // Largest gRPC message accepted: Lambda's 6 MiB payload plus headers and framing.
    max_message_bytes: z.number().int().positive().default(8 * 1024 * 1024),
    // Processes serving the gRPC port together (node:cluster): one event loop is one core.
    workers: z.number().int().min(1).max(64).default(1),
    // Envoy speaks first at once: a connection must finish its TLS and HTTP/2 handshake, and a stream send its first message, within this (ms).
    first_message_timeout: z.number().int().min(100).max(600_000).default(10_000),
    // A connection with no stream for this long gets GOAWAY; generous, as Envoy keeps its connection open between requests.
    connection_idle_timeout: z.number().int().min(1000).max(86_400_000).default(300_000),
    // Advertised SETTINGS_MAX_CONCURRENT_STREAMS: Envoy opens another connection past it.
    max_concurrent_streams: z.number().int().min(1).max(2_147_483_647).default(1000),
    // Lift nghttp2's rapid-reset limit for Envoy's reset after each answer: auto = loopback listeners only.
    raise_reset_limits: z.enum(['auto', 'always', 'never']).default('auto'),
    // TLS (and mTLS with client_ca_file) on the gRPC port, for an Envoy outside the pod.
    tls: tlsSchema.optional(),
    local_lambda: localLambdaSchema.optional(),
    defaults: defaultsSchema.optional(),
    routes: z.array(routeSchema).min(1, 'must list at least one route'),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    if (!Array.isArray(config.routes)) return;
    config.routes.forEach((route, index) => {
      if (typeof route?.name !== 'string') return;
      const first = seen.get(route.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', message: `duplicate route name (also routes[${first}])`, path: ['routes', index, 'name'] });
      } else {
        seen.set(route.name, index);
      }
    });
  }, ALWAYS);

export type Config = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type RouteMatch = z.output<typeof matchSchema>;
