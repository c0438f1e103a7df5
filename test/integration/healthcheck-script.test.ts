// scripts/healthcheck.js is what the Docker HEALTHCHECK and the Kubernetes
// exec probes run: held here against the real server's grpc.health.v1.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { startApp, type RunningApp } from '../../src/app';
import { formatProblems, parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/observability/logger';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'healthcheck.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function startSidecar(): Promise<RunningApp> {
  const loaded = parseConfig('listen: 127.0.0.1:0\nroutes: [{ name: lambda1, function_name: function, aws_region: us-east-1 }]\n', {});
  if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
  return startApp(loaded.config, { env: {}, logger: createLogger('silent') });
}

/** A loopback port with nothing listening on it. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

t.test('exits 0 for a SERVING sidecar, for the whole server and for the ext_proc service', async (t) => {
  const app = await startSidecar();
  t.teardown(() => app.stop(1000));
  const [whole, extProc, viaEnv] = await Promise.all([
    runScript([`127.0.0.1:${app.port}`]),
    runScript([`127.0.0.1:${app.port}`, 'envoy.service.ext_proc.v3.ExternalProcessor']),
    runScript([], { LAMBDA_EXTPROC_HEALTH_ADDRESS: `0.0.0.0:${app.port}` }),
  ]);
  t.equal(whole.code, 0, whole.stderr);
  t.match(whole.stdout, /SERVING/);
  t.equal(extProc.code, 0, extProc.stderr);
  t.equal(viaEnv.code, 0, `a wildcard listen address is checked on loopback: ${viaEnv.stderr}`);
});

t.test('readiness fails while draining (NOT_SERVING) but liveness (--live) still passes', async (t) => {
  const app = await startSidecar();
  t.teardown(() => app.stop(1000));
  app.health.set('NOT_SERVING');
  const [ready, live] = await Promise.all([runScript([`127.0.0.1:${app.port}`]), runScript(['--live', `127.0.0.1:${app.port}`])]);
  t.equal(ready.code, 1);
  t.match(ready.stdout, /NOT_SERVING/);
  t.equal(live.code, 0, live.stderr);
});

t.test('exits 1 for a health service name the server does not know', async (t) => {
  const app = await startSidecar();
  t.teardown(() => app.stop(1000));
  const run = await runScript([`127.0.0.1:${app.port}`, 'no.such.Service']);
  t.equal(run.code, 1);
  t.match(run.stderr, /NOT_FOUND|unknown service/);
});

t.test('exits 1 when no server answers, in both modes, within the timeout', async (t) => {
  const port = await closedPort();
  const started = Date.now();
  const env = { LAMBDA_EXTPROC_HEALTH_TIMEOUT_MS: '1000' };
  const [ready, live] = await Promise.all([runScript([`127.0.0.1:${port}`], env), runScript(['--live', `127.0.0.1:${port}`], env)]);
  t.equal(ready.code, 1);
  t.match(ready.stderr, /UNAVAILABLE|DEADLINE_EXCEEDED/);
  t.equal(live.code, 1);
  t.ok(Date.now() - started < 10_000, 'bounded by the timeout');
});
