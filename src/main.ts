#!/usr/bin/env node
// CLI entry: parse args → load config → start → drain on SIGTERM, reload on
// SIGHUP (and file changes with `watch: true`); plus the import-kong, schema
// and dev commands.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { startApp } from './app';
import { answerMetricsRequests } from './cluster/metrics-ipc';
import { runPrimary } from './cluster/primary';
import { renderConfigJsonSchema } from './config/json-schema';
import { formatProblems, loadConfigFile } from './config/load';
import { routeProblems } from './config/route-problems';
import { watchConfigFile } from './config/watch';
import type { DevSession } from './dev/dev-command';
import { startFrontDoor, type FrontDoor } from './dev/front-door';
import { importKong } from './kong-import/import-kong';
import { createLogger, stdoutLines } from './observability/logger';

const USAGE = `Usage:
  lambda-extproc run FILE                 run the ext_proc server (\`run\` may be left out with --config FILE)
  lambda-extproc check FILE               validate a config file: exit 0, or 1 with every problem
  lambda-extproc import-kong FILE         print the config equivalent to a Kong decK file; notes on stderr
  lambda-extproc schema                   print the config file's JSON Schema
  lambda-extproc dev FILE [--http PORT|HOST:PORT] [--lambda PORT] [--listen PORT|HOST:PORT]
                                          for development and tests only: run the server, a local HTTP
                                          front door in Envoy's place (--http, default 127.0.0.1:8000) and,
                                          when the config has local_lambda, a local Lambda runtime that runs
                                          those handler files on 127.0.0.1 (--lambda moves it, 0 = any free
                                          port; --listen moves the gRPC port). Not a production proxy or Lambda.
  lambda-extproc --help | --version

A config FILE may also be given as --config FILE, or in LAMBDA_EXTPROC_CONFIG.
`;

const COMMANDS = new Set(['run', 'check', 'import-kong', 'schema', 'dev']);
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        http: { type: 'string', default: '127.0.0.1:8000' },
        lambda: { type: 'string' },
        listen: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  if (!COMMANDS.has(command)) {
    // A bare FILE is not taken as `run FILE`: a mistyped command would then read as a missing file.
    const hint = /[./]/.test(command) ? ` (to run with a config file: lambda-extproc run ${command})` : '';
    process.stderr.write(`unknown command "${command}"${hint}\n${USAGE}`);
    return 2;
  }
  // Every command that reads a file takes it as its one argument; --config FILE stays for the config.
  const operands = positionals.slice(1);
  const extra = operands[command === 'schema' ? 0 : 1];
  if (extra !== undefined) {
    process.stderr.write(`${command}: unexpected argument "${extra}"\n${USAGE}`);
    return 2;
  }
  if (command === 'import-kong' && values.config !== undefined) {
    process.stderr.write(`import-kong takes the Kong decK file as its argument (lambda-extproc import-kong kong.yaml); --config names a lambda-extproc config\n`);
    return 2;
  }
  if (operands[0] !== undefined && values.config !== undefined) {
    process.stderr.write(`${command}: give the config file once, as ${command} FILE or ${command} --config FILE\n`);
    return 2;
  }
  const file = operands[0] ?? values.config ?? env.LAMBDA_EXTPROC_CONFIG;
  if (command === 'schema') {
    process.stdout.write(renderConfigJsonSchema());
    return 0;
  }
  if (command === 'import-kong') {
    const deck = positionals[1];
    if (deck === undefined) {
      process.stderr.write(`import-kong needs the decK file: lambda-extproc import-kong kong.yaml\n${USAGE}`);
      return 2;
    }
    const result = importKong(deck);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.code;
  }
  if (env.LOG_LEVEL !== undefined && !LOG_LEVELS.has(env.LOG_LEVEL)) {
    process.stderr.write(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')} (got "${env.LOG_LEVEL}")\n`);
    return 2;
  }
  if (file === undefined) {
    process.stderr.write(`${command} needs a config file: lambda-extproc ${command} FILE (or --config FILE, or LAMBDA_EXTPROC_CONFIG)\n`);
    return 2;
  }
  const loaded = loadConfigFile(file, env);
  if (!loaded.ok) {
    process.stderr.write(`${file}: invalid configuration\n${formatProblems(loaded.problems)}\n`);
    return 1;
  }
  if (command === 'check') {
    // Valid, yet some routes would answer every request with 500 (the server warns of these at start).
    const unusable = routeProblems(loaded.config.routes, env);
    if (unusable.length > 0) {
      process.stderr.write(`${file}: ${unusable.length} route${unusable.length === 1 ? '' : 's'} would fail every request\n${formatProblems(unusable)}\n`);
      return 1;
    }
    process.stdout.write(`${file}: OK (${loaded.config.routes.length} route${loaded.config.routes.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  if (command === 'dev') {
    // The front door dials our own port in plaintext; TLS is for an Envoy elsewhere.
    if (loaded.config.tls !== undefined) process.stderr.write('dev: tls in the config is ignored; the gRPC port serves plaintext on its listen address\n');
    if (loaded.config.workers > 1) process.stderr.write('dev: workers in the config is ignored; dev runs one process\n');
    // Loaded here only: the server's own run never loads the local Lambda runtime.
    const { prepareDev } = require('./dev/dev-command') as typeof import('./dev/dev-command');
    const prepared = prepareDev(file, { ...loaded.config, tls: undefined, workers: 1 }, env, { http: values.http, lambda: values.lambda, listen: values.listen });
    if (!prepared.ok) {
      process.stderr.write(`dev: ${prepared.message}\n`);
      return prepared.code;
    }
    return run(file, { ...loaded.config, tls: undefined, workers: 1 }, env, prepared.session);
  }
  return run(file, loaded.config, env);
}

async function run(file: string, config: Parameters<typeof startApp>[0], env: NodeJS.ProcessEnv, dev?: DevSession): Promise<number> {
  const workerId = cluster.worker?.id;
  const level = env.LOG_LEVEL === undefined ? config.log_level : (env.LOG_LEVEL as typeof config.log_level);
  const logger = createLogger(level, stdoutLines(config.workers > 1), workerId === undefined ? {} : { worker: workerId, pid: process.pid });
  // One request's failure must never take the process down.
  process.on('unhandledRejection', (reason) => logger.error({ error: String(reason) }, 'unhandled rejection'));
  if (dev === undefined && config.local_lambda !== undefined && workerId === undefined) logger.info('local_lambda is used by `lambda-extproc dev` only; the server ignores it');
  if (cluster.isPrimary && config.workers > 1) return runPrimary(file, config, logger);
  // A worker leaves the admin port, the file watch and the signals' fan-out to the primary.
  const isWorker = workerId !== undefined;
  let app;
  try {
    if (dev !== undefined) config = await dev.start(config, logger);
    app = await startApp(config, { env, logger, serveAdmin: !isWorker });
  } catch (error) {
    logger.fatal({ error: (error as Error).message }, 'cannot start');
    await dev?.close();
    logger.flush();
    return 1;
  }
  const running = app;
  let frontDoor: FrontDoor | undefined;
  if (dev !== undefined) {
    try {
      frontDoor = await startFrontDoor({ listen: dev.http, extproc: `${connectHost(config.listen)}:${running.port}`, maxBodyBytes: config.max_message_bytes });
    } catch (error) {
      logger.fatal({ error: (error as Error).message, http: dev.http }, 'cannot start the dev front door');
      await running.stop(0);
      await dev.close();
      logger.flush();
      return 1;
    }
    logger.info({ http: `http://${dev.http.slice(0, dev.http.lastIndexOf(':'))}:${frontDoor.port}`, port: frontDoor.port }, 'dev front door listening (a development aid, not a production proxy)');
    dev.announce(frontDoor.port);
  }
  // dev re-applies its address changes to a reloaded file.
  const reload = (): void => (dev === undefined ? void running.reloadFile(file) : dev.reload(running));
  process.on('SIGHUP', reload);
  const watcher = config.watch && !isWorker ? watchConfigFile(file, reload) : undefined;
  if (isWorker) answerMetricsRequests(() => running.metrics.snapshot());
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      // A terminal's Ctrl-C reaches a worker twice: directly and from the primary.
      if (stopping) return;
      stopping = true;
      logger.info({ signal, drain_timeout_ms: config.drain_timeout }, 'draining');
      watcher?.close();
      void frontDoor?.close();
      void running.stop().then(async (result) => {
        // After the drain: in-flight invocations still needed the local runtime.
        await dev?.close();
        logger.info({ result }, 'stopped');
        logger.flush();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A worker whose primary is gone has nobody to hand it connections: it drains and exits.
    if (isWorker) process.once('disconnect', () => stop('primary gone'));
  });
}

// The dev front door dials our own gRPC port: a wildcard listen address is reached on loopback.
function connectHost(listen: string): string {
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return host === '0.0.0.0' || host === '[::]' || host === '' ? '127.0.0.1' : host;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`lambda-extproc: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
