// `lambda-extproc dev`: the server, the HTTP front door in Envoy's place and,
// when the config has `local_lambda`, a local Lambda runtime that serves those
// handler files on 127.0.0.1. For development and tests only. main.ts loads
// this module for the dev command alone, so the server's run never does.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { RunningApp } from '../app';
import { loadConfigFile } from '../config/load';
import type { Config, RouteConfig } from '../config/schema';
import type { Logger } from '../observability/logger';
import { badAddressMessage, parseDevAddress } from './dev-address';
import type { LocalFunction } from './handler-host';
import { loopbackAddress, parseFunctionName, startLocalRuntime, type LocalRuntime } from './local-runtime';

export interface DevFlags {
  /** --http: the front door's address (PORT or HOST:PORT). */
  readonly http: string;
  /** --lambda: the local runtime's address instead of local_lambda.listen. */
  readonly lambda: string | undefined;
  /** --listen: the gRPC address instead of the config's listen. */
  readonly listen: string | undefined;
}

export interface DevSession {
  /** The front door's host:port. */
  readonly http: string;
  /** Starts the local runtime, if the config has one; returns the config to serve. */
  start(config: Config, logger: Logger): Promise<Config>;
  /** SIGHUP or a file change: the file's config with the same adjustments as at start. */
  reload(running: Pick<RunningApp, 'reload' | 'reloadFile'>): void;
  /** Tells the terminal what to try, once the front door listens. */
  announce(frontDoorPort: number): void;
  close(): Promise<void>;
}

export type DevPrepared = { readonly ok: true; readonly session: DevSession } | { readonly ok: false; readonly code: number; readonly message: string };

type Write = (text: string) => void;

/** Checks the flags and the handler files; starts nothing. */
export function prepareDev(file: string, config: Config, env: NodeJS.ProcessEnv, flags: DevFlags, write: Write = (text) => process.stderr.write(text)): DevPrepared {
  const http = parseDevAddress(flags.http);
  if (http === undefined) return { ok: false, code: 2, message: badAddressMessage('--http', flags.http) };
  const listen = flags.listen === undefined ? config.listen : parseDevAddress(flags.listen);
  if (listen === undefined) return { ok: false, code: 2, message: badAddressMessage('--listen', flags.listen ?? '') };
  const local = config.local_lambda;
  if (local === undefined) {
    if (flags.lambda !== undefined) return { ok: false, code: 2, message: '--lambda moves the local Lambda runtime, and the config has no local_lambda section' };
    return { ok: true, session: createSession({ file, env, http, listen, write, runtime: undefined }) };
  }
  const lambdaListen = flags.lambda === undefined ? local.listen : parseDevAddress(flags.lambda);
  if (lambdaListen === undefined) return { ok: false, code: 2, message: badAddressMessage('--lambda', flags.lambda ?? '') };
  try {
    loopbackAddress(lambdaListen);
  } catch (error) {
    return { ok: false, code: 2, message: `--lambda: ${(error as Error).message}` };
  }
  // Handler paths are relative to the config file, so dev works from any directory.
  const base = dirname(resolve(file));
  const problems: string[] = [];
  const functions: LocalFunction[] = Object.entries(local.functions).map(([name, fn]) => {
    const path = resolve(base, fn.handler);
    if (!isFile(path)) problems.push(`local_lambda.functions.${name}.handler: file not found: ${path}`);
    return { name, file: path, timeoutMs: fn.timeout, memorySizeMb: fn.memory_size, environment: fn.environment ?? {} };
  });
  if (problems.length > 0) return { ok: false, code: 1, message: `${file}: ${problems.join('\n')}` };
  return { ok: true, session: createSession({ file, env, http, listen, write, runtime: { listen: lambdaListen, configuredPort: loopbackAddress(local.listen).port, functions } }) };
}

interface SessionSettings {
  readonly file: string;
  readonly env: NodeJS.ProcessEnv;
  readonly http: string;
  readonly listen: string;
  readonly write: Write;
  readonly runtime: { readonly listen: string; readonly configuredPort: number; readonly functions: readonly LocalFunction[] } | undefined;
}

function createSession(settings: SessionSettings): DevSession {
  let runtime: LocalRuntime | undefined;
  let routes: readonly RouteConfig[] = [];
  const adjust = (config: Config): Config => {
    const moved = runtime !== undefined && settings.runtime !== undefined && runtime.port !== settings.runtime.configuredPort;
    // Routes that call local_lambda.listen follow the runtime to the port it got (--lambda).
    const pointed = moved ? config.routes.map((route) => (callsPort(route, settings.runtime?.configuredPort) ? { ...route, port: runtime?.port ?? route.port } : route)) : config.routes;
    // As at start (main.ts): one process, plaintext gRPC for the front door.
    return { ...config, listen: settings.listen, tls: undefined, workers: 1, routes: pointed };
  };
  return {
    http: settings.http,
    async start(loaded, logger) {
      if (settings.runtime === undefined) {
        logger.info('dev: the config has no local_lambda section; routes call the Lambda endpoints they name');
        routes = loaded.routes;
        return adjust(loaded);
      }
      const names = new Set(settings.runtime.functions.map((fn) => fn.name));
      const listen = settings.runtime.listen;
      runtime = await startLocalRuntime({
        listen,
        functions: settings.runtime.functions,
        // stderr, so that stdout stays JSON log lines only.
        onLine: (name, line) => settings.write(`[${name}] ${line}\n`),
      }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        throw new Error(`the local Lambda runtime cannot listen on ${listen}: the port is in use (another dev, or docker compose's Lambda emulator?); --lambda PORT moves it, --lambda 0 takes a free port`);
      });
      logger.info({ local_lambda: `127.0.0.1:${runtime.port}`, port: runtime.port, functions: [...names] }, 'local Lambda runtime listening (for development and tests only; loopback only)');
      const config = adjust(loaded);
      routes = config.routes;
      for (const route of config.routes) {
        if (callsPort(route, runtime.port) && !names.has(parseFunctionName(route.function_name).name)) {
          logger.warn({ route: route.name, function_name: route.function_name }, 'route calls the local Lambda runtime, which has no such function in local_lambda.functions (it will answer 404)');
        }
      }
      return config;
    },
    reload(running) {
      const loaded = loadConfigFile(settings.file, settings.env);
      // An invalid file: the app's own reload logs every problem and keeps the running config.
      if (!loaded.ok) {
        running.reloadFile(settings.file);
        return;
      }
      const config = adjust(loaded.config);
      routes = config.routes;
      running.reload(config);
    },
    announce(frontDoorPort) {
      const host = settings.http.slice(0, settings.http.lastIndexOf(':'));
      const origin = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${frontDoorPort}`;
      const tries = routes.flatMap((route) => {
        const path = examplePath(route);
        if (path === undefined) return [];
        // curl -N shows a streamed answer as it comes instead of at its end.
        return [`  curl ${route.invoke_mode === 'RESPONSE_STREAM' ? '-N ' : ''}${origin}${path}`];
      });
      const lines = [
        '',
        runtime === undefined
          ? `lambda-extproc dev (development only): front door ${origin} → ext_proc → Lambda`
          : `lambda-extproc dev (development and tests only): front door ${origin} → ext_proc → SigV4 → local Lambda runtime 127.0.0.1:${runtime.port} (${settings.runtime?.functions.map((fn) => fn.name).join(', ')}), not AWS`,
        ...(tries.length > 0 ? ['Try:', ...tries] : []),
        ...(runtime === undefined ? [] : ['Function output appears below as [function] lines. Ctrl-C stops.']),
        '',
      ];
      settings.write(`${lines.join('\n')}\n`);
    },
    async close() {
      await runtime?.close();
    },
  };
}

function callsPort(route: RouteConfig, port: number | undefined): boolean {
  return (route.host === '127.0.0.1' || route.host === 'localhost') && route.port === port;
}

/** A path that the route's match takes, for the "Try:" lines; none for a regex. */
export function examplePath(route: RouteConfig): string | undefined {
  const match = route.match;
  if (match === undefined) return undefined;
  if (match.path !== undefined) return match.path;
  if (match.path_prefix !== undefined) return match.path_prefix.endsWith('/') ? `${match.path_prefix}hello` : match.path_prefix;
  if (match.path_template !== undefined) return match.path_template.replace(/\{([^}+]+)\+?\}/g, '$1');
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
