// Wires config, AWS, Lambda, routing and the gRPC server together. Caches
// (credentials, Lambda clients) live here so they outlive config reloads.
import type { Config } from './config/schema';
import { formatProblems, loadConfigFile } from './config/load';
import { routeProblems } from './config/route-problems';
import { createCredentialCache } from './aws/credentials';
import { createLambdaClientCache } from './lambda/client';
import { createRouteInvoker, createStreamRouteInvoker } from './lambda/route-invoker';
import { createRouteHandler, createStreamRouteHandler } from './route-handler';
import { compileRoutes } from './routing';
import type { Generation, StreamEvents } from './extproc/stream';
import { createHealthState, type HealthState } from './observability/health';
import type { Logger } from './observability/logger';
import { startAdminServer, type RunningAdmin } from './observability/admin-server';
import { createMetrics, type Metrics } from './observability/metrics';
import { createRequestLog, type RequestLog } from './observability/request-log';
import { startServer, type RunningServer } from './server';
import { toServerCredentials } from './tls';

export interface AppOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** False in a cluster worker: the primary serves `admin.listen` for all workers. */
  readonly serveAdmin?: boolean;
}

export interface RunningApp {
  readonly port: number;
  readonly health: HealthState;
  readonly metrics: Metrics;
  /** Port of the admin HTTP listener, when `admin.listen` is set. */
  readonly adminPort: number | undefined;
  /** Swaps in a new config for streams opened from now on. */
  reload(config: Config): void;
  /** Loads and validates `file`; valid → reload, invalid → keep the running config and log every problem. */
  reloadFile(file: string): boolean;
  /** Health NOT_SERVING, refuse new streams, let in-flight ones finish. */
  stop(timeoutMs?: number): Promise<'drained' | 'forced'>;
}

export async function startApp(config: Config, options: AppOptions): Promise<RunningApp> {
  const { logger, env } = options;
  const metrics = createMetrics();
  // The chain reads process.env, as the AWS SDK providers it is built from do.
  const credentials = createCredentialCache({
    onEvent: (event) => {
      metrics.credentialRefresh(event.source, event.outcome);
      if (event.outcome === 'failed') logger.warn({ credential_source: event.source, error: event.detail }, 'AWS credentials fetch failed');
      else logger.debug({ credential_source: event.source }, 'AWS credentials refreshed');
    },
  });
  const clients = createLambdaClientCache();
  const health = createHealthState();
  const timed = (route: { name: string; function_name: string }, seconds: number): void => metrics.invokeObserved(route.name, route.function_name, seconds);
  const build = (next: Config): Generation => ({
    table: compileRoutes(next.routes),
    handle: createRouteHandler(createRouteInvoker(next.routes, { env, credentials, clients }), timed),
    // RESPONSE_STREAM routes: InvokeWithResponseStream, streamed to Envoy when it runs FULL_DUPLEX_STREAMED.
    handleStream: createStreamRouteHandler(createStreamRouteInvoker(next.routes, { env, credentials, clients }), timed),
  });
  // Such routes are served (each request answers 500) but named once, at start and on every reload.
  const warnRouteProblems = (next: Config): void => {
    const problems = routeProblems(next.routes, env);
    if (problems.length > 0) logger.warn({ problems, summary: formatProblems(problems) }, 'config has routes that fail every request');
  };
  let current = config;
  warnRouteProblems(config);
  let generation = build(config);
  let server: RunningServer | undefined;
  let draining = false;
  const admin: RunningAdmin | undefined =
    config.admin === undefined || options.serveAdmin === false
      ? undefined
      : await startAdminServer(config.admin.listen, {
          metrics,
          readiness: () =>
            draining ? { ready: false, reason: 'draining' } : server === undefined || health.status() !== 'SERVING' ? { ready: false, reason: 'gRPC not serving' } : { ready: true, reason: '' },
        });
  server = await startServer({
    listen: config.listen,
    maxMessageBytes: config.max_message_bytes,
    credentials: toServerCredentials(config.tls),
    health,
    handshakeTimeout: config.first_message_timeout,
    connectionIdleTimeout: config.connection_idle_timeout,
    maxConcurrentStreams: config.max_concurrent_streams,
    raiseResetLimits: config.raise_reset_limits,
    onHandshakeTimeout: () => logger.debug({ timeout_ms: config.first_message_timeout }, 'connection closed: no TLS/HTTP/2 handshake within first_message_timeout'),
    stream: {
      current: () => generation,
      events: createStreamEvents(createRequestLog(logger, { logQuery: () => current.log_query }), metrics),
      envoyMessageTimeout: config.envoy_message_timeout,
      maxBodyBytes: config.max_message_bytes,
      maxResponseBytes: config.max_message_bytes,
      firstMessageTimeout: config.first_message_timeout,
      allowModeOverride: config.allow_mode_override,
    },
  }).catch(async (error: unknown) => {
    // A gRPC port that cannot bind must not leave the admin port held.
    await admin?.close();
    throw error;
  });
  if (admin !== undefined) logger.info({ admin_listen: config.admin?.listen, admin_port: admin.port }, 'admin HTTP listening (/metrics, /healthz, /readyz)');
  logger.info({ listen: config.listen, port: server.port, routes: config.routes.map((r) => r.name) }, 'lambda-extproc listening');
  logger[server.resetLimits.level]({ listen: config.listen, raise_reset_limits: config.raise_reset_limits, reset_limits_raised: server.resetLimits.raise, node: process.version }, server.resetLimits.message);
  if (!server.handshakeGuarded) logger.warn({ first_message_timeout: config.first_message_timeout }, 'this grpc-js does not expose its http2 servers: connections that never finish their HTTP/2 handshake are not closed');
  const reload = (next: Config): void => {
    const restartOnly = RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]));
    if (restartOnly.length > 0) logger.warn({ fields: restartOnly }, 'these config changes take effect only after a restart');
    warnRouteProblems(next);
    generation = build(next);
    current = next;
    metrics.configReload('success');
    logger.info({ routes: next.routes.map((r) => r.name) }, 'config reloaded');
  };
  return {
    port: server.port,
    health,
    metrics,
    adminPort: admin?.port,
    reload,
    reloadFile(file) {
      const loaded = loadConfigFile(file, env);
      if (!loaded.ok) {
        metrics.configReload('failure');
        logger.error({ file, problems: loaded.problems, summary: formatProblems(loaded.problems) }, 'config reload rejected; the previous config stays in force');
        return false;
      }
      reload(loaded.config);
      return true;
    },
    async stop(timeoutMs = current.drain_timeout) {
      draining = true;
      const result = server === undefined ? 'drained' : await server.drain(timeoutMs);
      server = undefined;
      await clients.destroy();
      await admin?.close();
      return result;
    },
  };
}

// Read once at start: changing them needs a new listener or a new process.
const RESTART_ONLY = [
  'listen',
  'admin',
  'tls',
  'max_message_bytes',
  'envoy_message_timeout',
  'allow_mode_override',
  'log_level',
  'watch',
  'workers',
  'first_message_timeout',
  'connection_idle_timeout',
  'max_concurrent_streams',
  'raise_reset_limits',
] as const satisfies ReadonlyArray<keyof Config>;

// The stream reports what happened; the log and the metrics each take their part.
function createStreamEvents(log: RequestLog, metrics: Metrics): StreamEvents {
  return {
    streamOpened: () => metrics.streamOpened(),
    streamClosed: () => metrics.streamClosed(),
    requestDone(record) {
      metrics.requestDone(record);
      log.requestDone(record);
    },
    requestCancelled(route, latencyMs, streamedBytes) {
      metrics.requestCancelled(route);
      log.requestCancelled(route, latencyMs, streamedBytes);
    },
    protocolError(message) {
      metrics.protocolError();
      log.protocolError(message);
    },
    ...(log.message === undefined ? {} : { message: log.message }),
  };
}
