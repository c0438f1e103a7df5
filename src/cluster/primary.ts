// With `workers: N` (N > 1) the process the operator starts is the cluster
// primary. It forks N workers that each run the whole sidecar on the shared
// gRPC port (node:cluster hands them connections in turn) and keeps what must
// exist once: the admin port with the workers' metrics added up, the signals
// (SIGHUP and file changes are passed on, SIGTERM drains every worker), and a
// replacement for any worker that dies.
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema';
import { watchConfigFile } from '../config/watch';
import { startAdminServer, type RunningAdmin } from '../observability/admin-server';
import type { Logger } from '../observability/logger';
import { createClusterMetrics } from './metrics-ipc';

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that lived this long was healthy: its replacement starts after RESTART_MIN_MS again. */
const HEALTHY_LIFETIME_MS = 10_000;
/** Past drain_timeout, workers get this long to exit before SIGKILL. */
const EXIT_GRACE_MS = 5000;

export async function runPrimary(file: string, config: Config, logger: Logger): Promise<number> {
  const wanted = config.workers;
  const serving = new Set<number>();
  let started = false;
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);

  let admin: RunningAdmin | undefined;
  if (config.admin !== undefined) {
    try {
      admin = await startAdminServer(config.admin.listen, {
        metrics: createClusterMetrics(live),
        // All workers must listen once; later, a worker being replaced does not take the pod out of rotation.
        readiness: () =>
          stopping
            ? { ready: false, reason: 'draining' }
            : serving.size < (started ? 1 : wanted)
              ? { ready: false, reason: `${serving.size} of ${wanted} workers serving` }
              : { ready: true, reason: '' },
      });
    } catch (error) {
      logger.fatal({ error: (error as Error).message, admin_listen: config.admin.listen }, 'cannot start');
      logger.flush();
      return 1;
    }
    logger.info({ admin_listen: config.admin.listen, admin_port: admin.port }, 'admin HTTP listening (/metrics, /healthz, /readyz)');
  }

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      void (admin === undefined ? Promise.resolve() : admin.close()).then(() => {
        logger.flush();
        resolve(code);
      });
    };

    const fork = (): void => {
      const bornAt = Date.now();
      const worker = cluster.fork();
      // IPC trouble with one worker must not throw in the primary.
      worker.on('error', (error) => logger.warn({ worker: worker.id, error: error.message }, 'worker IPC error'));
      worker.on('listening', (address) => {
        serving.add(worker.id);
        if (!started && serving.size === wanted) {
          started = true;
          logger.info({ listen: config.listen, port: address.port, workers: wanted }, 'lambda-extproc workers listening');
        }
      });
      worker.once('exit', (code, signal) => {
        serving.delete(worker.id);
        if (stopping) return;
        if (!started) {
          // The worker logged why; a sidecar that cannot start all its workers does not start.
          logger.fatal({ worker: worker.id, code, signal }, 'cannot start: a worker exited before listening');
          void stopWorkers().then(() => finish(1));
          return;
        }
        restartDelay = Date.now() - bornAt >= HEALTHY_LIFETIME_MS ? RESTART_MIN_MS : restartDelay;
        logger.error({ worker: worker.id, code, signal, restart_in_ms: restartDelay }, 'worker exited; starting a new one');
        setTimeout(() => {
          if (!stopping) fork();
        }, restartDelay).unref();
        restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
      });
    };

    const stopWorkers = async (): Promise<boolean> => {
      stopping = true;
      const workers = live();
      const exits = workers.map(
        (worker) =>
          new Promise<boolean>((done) => {
            if (worker.isDead()) return done(true);
            worker.once('exit', (code) => done(code === 0));
          }),
      );
      for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const worker of live()) if (!worker.isDead()) worker.process.kill('SIGKILL');
      }, config.drain_timeout + EXIT_GRACE_MS);
      const clean = (await Promise.all(exits)).every(Boolean);
      clearTimeout(timer);
      return clean;
    };

    // SIGHUP and file changes reach every worker; each re-reads and validates the file itself.
    const reloadWorkers = (): void => {
      for (const worker of live()) if (!worker.isDead()) worker.process.kill('SIGHUP');
    };
    process.on('SIGHUP', reloadWorkers);
    const watcher = config.watch ? watchConfigFile(file, reloadWorkers) : undefined;

    const stop = (signal: string): void => {
      if (stopping) return;
      logger.info({ signal, drain_timeout_ms: config.drain_timeout, workers: live().length }, 'draining');
      watcher?.close();
      void stopWorkers().then((clean) => {
        logger.info({ result: clean ? 'drained' : 'forced' }, 'stopped');
        finish(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));

    for (let i = 0; i < wanted; i++) fork();
  });
}
