#!/usr/bin/env node
// CLI entry: parse args → load config → start → drain on SIGTERM, reload on SIGHUP.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startApp } from './app';
import { formatProblems, loadConfigFile } from './config/load';
import { createLogger } from './observability/logger';

const USAGE = `Usage:
  lambda-extproc [--config FILE]          run the ext_proc server (LAMBDA_EXTPROC_CONFIG as fallback)
  lambda-extproc check --config FILE      validate a config file: exit 0, or 1 with every problem
  lambda-extproc --help | --version
`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
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
  const file = values.config ?? env.LAMBDA_EXTPROC_CONFIG;
  if (command !== 'run' && command !== 'check') {
    process.stderr.write(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  if (file === undefined) {
    process.stderr.write(`--config FILE is required (or set LAMBDA_EXTPROC_CONFIG)\n${USAGE}`);
    return 2;
  }
  const loaded = loadConfigFile(file, env);
  if (!loaded.ok) {
    process.stderr.write(`${file}: invalid configuration\n${formatProblems(loaded.problems)}\n`);
    return 1;
  }
  if (command === 'check') {
    process.stdout.write(`${file}: OK (${loaded.config.routes.length} route${loaded.config.routes.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  return run(file, loaded.config, env);
}

async function run(file: string, config: Parameters<typeof startApp>[0], env: NodeJS.ProcessEnv): Promise<number> {
  const logger = createLogger(env.LOG_LEVEL === undefined ? config.log_level : (env.LOG_LEVEL as typeof config.log_level));
  // One request's failure must never take the process down.
  process.on('unhandledRejection', (reason) => logger.error({ error: String(reason) }, 'unhandled rejection'));
  let app;
  try {
    app = await startApp(config, { env, logger });
  } catch (error) {
    logger.fatal({ error: (error as Error).message }, 'cannot start');
    logger.flush();
    return 1;
  }
  const running = app;
  process.on('SIGHUP', () => {
    const loaded = loadConfigFile(file, env);
    if (!loaded.ok) {
      logger.error({ problems: loaded.problems }, 'config reload rejected; the previous config stays in force');
      return;
    }
    running.reload(loaded.config);
    logger.info({ routes: loaded.config.routes.map((r) => r.name) }, 'config reloaded');
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal, drain_timeout_ms: config.drain_timeout }, 'draining');
      void running.stop().then((result) => {
        logger.info({ result }, 'stopped');
        logger.flush();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
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
