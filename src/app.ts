// Wires config, AWS, Lambda, routing and the gRPC server together. Caches
// (credentials, Lambda clients) live here so they outlive config reloads.
import type { Config } from './config/schema';
import { createCredentialCache } from './aws/credentials';
import { createLambdaClientCache } from './lambda/client';
import { createRouteInvoker } from './lambda/route-invoker';
import { createRouteHandler } from './route-handler';
import { compileRoutes } from './routing';
import type { Generation, StreamEvents } from './extproc/stream';
import { createHealthState, type HealthState } from './observability/health';
import type { Logger } from './observability/logger';
import { startServer, type RunningServer } from './server';
import { toServerCredentials } from './tls';

export interface AppOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
}

export interface RunningApp {
  readonly port: number;
  readonly health: HealthState;
  /** Swaps in a new config for streams opened from now on. */
  reload(config: Config): void;
  /** Health NOT_SERVING, refuse new streams, let in-flight ones finish. */
  stop(timeoutMs?: number): Promise<'drained' | 'forced'>;
}

export async function startApp(config: Config, options: AppOptions): Promise<RunningApp> {
  const { logger, env } = options;
  const credentials = createCredentialCache();
  const clients = createLambdaClientCache();
  const health = createHealthState();
  const build = (next: Config): Generation => ({
    table: compileRoutes(next.routes),
    handle: createRouteHandler(createRouteInvoker(next.routes, { env, credentials, clients })),
  });
  let generation = build(config);
  let server: RunningServer | undefined;
  server = await startServer({
    listen: config.listen,
    maxMessageBytes: config.max_message_bytes,
    credentials: toServerCredentials(config.tls),
    health,
    stream: {
      current: () => generation,
      events: createLogEvents(logger),
      envoyMessageTimeout: config.envoy_message_timeout,
      maxBodyBytes: config.max_message_bytes,
    },
  });
  logger.info({ listen: config.listen, port: server.port, routes: config.routes.map((r) => r.name) }, 'lambda-extproc listening');
  return {
    port: server.port,
    health,
    reload(next) {
      generation = build(next);
    },
    async stop(timeoutMs = config.drain_timeout) {
      const result = server === undefined ? 'drained' : await server.drain(timeoutMs);
      server = undefined;
      clients.destroy();
      return result;
    },
  };
}

function createLogEvents(logger: Logger): StreamEvents {
  return {
    streamOpened() {},
    streamClosed() {},
    requestDone(record) {
      const { error, ...fields } = record;
      const line = {
        route: fields.route,
        function: fields.functionName,
        method: fields.method,
        path: fields.path,
        status: fields.status,
        latency_ms: fields.latencyMs,
        request_id: fields.requestId,
        lambda_request_id: fields.lambdaRequestId,
        trace_id: fields.traceId,
        ...(error === undefined ? {} : { cause: error.kind, error: error.message, aws_code: error.details.awsCode }),
      };
      if (error === undefined || fields.status < 500) logger.info(line, 'request');
      else logger.error(line, 'request failed');
    },
    requestCancelled(route, latencyMs) {
      logger.info({ route, latency_ms: latencyMs }, 'request cancelled by Envoy before the answer');
    },
    protocolError(message) {
      logger.warn({ error: message }, 'ext_proc protocol error');
    },
  };
}
