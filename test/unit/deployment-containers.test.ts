// Dockerfile, .dockerignore, docker-compose.yml and the example function:
// parsed and cross-checked against the code, the Envoy configs and each other.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { formatProblems, parseConfig } from '../../src/config/load';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Obj = Record<string, unknown>;
const at = (value: unknown, ...path: Array<string | number>): unknown =>
  path.reduce<unknown>((node, key) => (node === null || typeof node !== 'object' ? undefined : (node as Record<string | number, unknown>)[key]), value);

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
}

/** Dockerfile instructions, continuations joined, comments dropped, each with its stage index. */
function dockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  let stage = -1;
  const out: Instruction[] = [];
  for (const line of joined.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^(\w+)\s+(.*)$/.exec(trimmed);
    if (match === null) continue;
    const op = match[1]!.toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ op, args: match[2]!.trim(), stage });
  }
  return out;
}

const steps = dockerfile(read('Dockerfile'));
const lastStage = Math.max(...steps.map((s) => s.stage));
const final = steps.filter((s) => s.stage === lastStage);
const args = Object.fromEntries(steps.filter((s) => s.op === 'ARG' && s.stage === -1).map((s) => s.args.split('=') as [string, string]));
const expandArgs = (value: string) => value.replace(/\$\{(\w+)\}/g, (_whole, name: string) => args[name] ?? '');
const compose = parse(read('docker-compose.yml')) as Obj;
const service = (name: string) => at(compose, 'services', name) as Obj;

t.test('Dockerfile: multi-stage on Node 22, production dependencies only in the image', async (t) => {
  const froms = steps.filter((s) => s.op === 'FROM').map((s) => expandArgs(s.args));
  t.ok(froms.length >= 2, 'more than one stage');
  for (const from of froms) t.match(from, /^node:22[-.@]/, `${from}: Node 22 (raised HTTP/2 reset limits)`);
  const build = steps.filter((s) => s.op === 'RUN' && /npm run build/.test(s.args));
  t.equal(build.length, 1, 'TypeScript built once');
  t.not(build[0]?.stage, lastStage, 'not in the runtime stage');
  const installs = steps.filter((s) => s.op === 'RUN' && /npm (ci|install)/.test(s.args));
  t.ok(installs.some((s) => /npm ci --omit=dev/.test(s.args)), 'a production-only install');
  t.ok(installs.every((s) => /--omit=optional/.test(s.args)), 'no install pulls the optional Node binary package into the image');
  t.notOk(final.some((s) => s.op === 'RUN' && /npm (ci|install)(?!.*--omit=dev)/.test(s.args)), 'no dev install in the runtime stage');
  const copies = final.filter((s) => s.op === 'COPY').map((s) => s.args);
  const nodeModules = copies.find((c) => /node_modules/.test(c));
  const depsStage = /--from=(\S+)/.exec(nodeModules ?? '')?.[1];
  const depsInstall = steps.find((s) => s.op === 'RUN' && /npm ci --omit=dev/.test(s.args));
  t.ok(steps.some((s) => s.op === 'FROM' && new RegExp(`AS ${depsStage}$`, 'i').test(s.args) && s.stage === depsInstall?.stage), 'node_modules come from the --omit=dev stage');
  for (const needed of ['dist', 'proto', 'package.json', 'scripts/healthcheck.js']) {
    t.ok(copies.some((c) => c.includes(needed)), `runtime has ${needed}`);
  }
});

t.test('Dockerfile: non-root, SIGTERM, health check, gRPC port, entrypoint', async (t) => {
  const user = final.filter((s) => s.op === 'USER').at(-1)?.args ?? '';
  t.match(user, /^[1-9]\d*(:\d+)?$/, 'a numeric non-root user (runAsNonRoot can verify it)');
  t.equal(final.find((s) => s.op === 'STOPSIGNAL')?.args, 'SIGTERM');
  const health = final.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
  t.match(health, /CMD \["node", "\/app\/scripts\/healthcheck\.js"\]/, 'grpc.health.v1 check');
  t.ok(existsSync(join(ROOT, 'scripts', 'healthcheck.js')));
  const defaults = parseConfig('routes: [{ name: a, function_name: F }]', {});
  if (!defaults.ok) throw new Error(formatProblems(defaults.problems));
  const port = defaults.config.listen.split(':').at(-1);
  t.equal(final.find((s) => s.op === 'EXPOSE')?.args, port, `EXPOSE the default listen port ${port}`);
  t.same(JSON.parse(final.find((s) => s.op === 'ENTRYPOINT')?.args ?? 'null'), ['node', '/app/dist/main.js']);
  t.same(JSON.parse(final.find((s) => s.op === 'CMD')?.args ?? 'null'), ['--config', '/etc/lambda-extproc/config.yaml']);
});

t.test('.dockerignore keeps build output, dependencies, secrets and tests out of the context', async (t) => {
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const entry of ['node_modules', 'dist', '.git', 'test', '.env']) t.ok(ignored.includes(entry), entry);
  for (const needed of ['src', 'proto', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    t.notOk(ignored.includes(needed), `${needed} stays in the context`);
  }
});

t.test('docker-compose.yml: Envoy (pinned official image) on :8000 in front of the sidecar', async (t) => {
  const envoy = service('envoy');
  t.match(envoy.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/, 'official image, pinned version');
  t.ok((envoy.ports as string[]).includes('8000:8000'), 'publishes the listener');
  const envoyMount = (envoy.volumes as string[]).find((v) => v.endsWith(':/etc/envoy/envoy.yaml:ro'));
  t.equal(envoyMount?.split(':')[0], './envoy/envoy.compose.yaml');
  t.equal(at(envoy, 'depends_on', 'lambda-extproc', 'condition'), 'service_healthy');
  t.ok(at(envoy, 'healthcheck', 'test'), 'has a healthcheck');
  const envoyConfig = parse(read('envoy/envoy.compose.yaml')) as Obj;
  t.equal(at(envoyConfig, 'static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'), 8000);
  t.match(JSON.stringify(at(envoy, 'healthcheck', 'test')), String(at(envoyConfig, 'admin', 'address', 'socket_address', 'port_value')), 'health check asks the admin port');
});

t.test('docker-compose.yml: the sidecar is built here, runs the compose config and reaches the emulator', async (t) => {
  const sidecar = service('lambda-extproc');
  t.equal(sidecar.build, '.', 'built from our Dockerfile');
  const mount = (sidecar.volumes as string[]).find((v) => v.includes(':/etc/lambda-extproc/config.yaml'));
  t.equal(mount?.split(':')[0], './config/docker-compose.yaml', 'mounted where the image looks (CMD --config)');
  const loaded = parseConfig(read('config/docker-compose.yaml'), {});
  t.ok(loaded.ok, loaded.ok ? 'config valid' : formatProblems(loaded.problems));
  const env = sidecar.environment as Record<string, string>;
  const endpoint = new URL(env.AWS_ENDPOINT_URL_LAMBDA!);
  t.ok(service(endpoint.hostname), `AWS_ENDPOINT_URL_LAMBDA points at the ${endpoint.hostname} service`);
  t.equal(endpoint.port, '8080', "the emulator's Invoke API port");
  t.ok(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY, 'dummy keys so requests can be signed');
  t.notMatch(env.AWS_ACCESS_KEY_ID!, /^(AKIA|ASIA)/, 'not a real key id');
  t.equal(at(sidecar, 'depends_on', endpoint.hostname, 'condition'), 'service_healthy');
  if (loaded.ok) {
    const route = loaded.config.routes.find((r) => r.name === 'lambda1');
    t.equal(route?.function_name, 'function', 'the emulator serves the function "function"');
    t.equal(route?.host, undefined, 'no host: the endpoint comes from AWS_ENDPOINT_URL_LAMBDA');
    t.ok(route?.aws_region ?? env.AWS_REGION, 'a region to sign for');
    const stop = Number(/^(\d+)s$/.exec(String(sidecar.stop_grace_period))?.[1]);
    t.ok(stop * 1000 > loaded.config.drain_timeout, 'stop_grace_period outlasts drain_timeout');
  }
});

t.test('docker-compose.yml: the Lambda emulator runs the example handler', async (t) => {
  const lambda = service('hello-lambda');
  t.match(lambda.image, /^public\.ecr\.aws\/lambda\/nodejs:\d+$/, "AWS's Lambda base image");
  t.same(lambda.command, ['index.handler']);
  const mount = (lambda.volumes as string[]).find((v) => v.includes(':/var/task/'));
  t.equal(mount, './examples/hello-lambda/index.mjs:/var/task/index.mjs:ro');
  t.ok(at(lambda, 'healthcheck', 'test'), 'has a healthcheck');
  const example = parseConfig(read('config/example.yaml'), {});
  if (example.ok) {
    const port = example.config.routes[0]?.port;
    t.ok((lambda.ports as string[]).includes(`${port}:8080`), `published on ${port}, where config/example.yaml looks`);
  }
});

t.test('the example handler returns {"response":"yes"}', async (t) => {
  const module = (await import(join(ROOT, 'examples', 'hello-lambda', 'index.mjs'))) as { handler: (event: unknown) => Promise<unknown> };
  t.equal(JSON.stringify(await module.handler({})), '{"response":"yes"}');
});
