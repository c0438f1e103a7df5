// deploy/kubernetes/: every manifest parsed, and the Pod cross-checked against
// lambda-extproc's config (listen address, drain timeout), the Envoy config
// (ports, admin) and the Dockerfile (user, health check script).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { formatProblems, parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';

const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'kubernetes');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Obj;
const resources: Obj[] = (kustomization.resources as string[]).flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return { ...(doc.toJS() as Obj), __file: file };
  }),
);
const find = (kind: string, name?: string) => resources.filter((r) => r.kind === kind && (name === undefined || r.metadata?.name === name));
const one = (kind: string, name?: string) => {
  const found = find(kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0]!;
};

const deployment = one('Deployment');
const pod = deployment.spec.template.spec as Obj;
const container = (name: string) => (pod.containers as Obj[]).find((c) => c.name === name)!;
const envoy = container('envoy');
const sidecar = container('lambda-extproc');

function configMapFile(volumeContainer: Obj, mountPath: string, fileName: string): string {
  const mount = (volumeContainer.volumeMounts as Obj[]).find((m) => m.mountPath === mountPath);
  const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
  const map = one('ConfigMap', volume?.configMap?.name);
  return map.data[fileName] as string;
}
const envoyText = configMapFile(envoy, '/etc/envoy', 'envoy.yaml');
const sidecarText = configMapFile(sidecar, '/etc/lambda-extproc', 'config.yaml');
function sidecarConfig(): Config {
  const loaded = parseConfig(sidecarText, {});
  if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
  return loaded.config;
}
const sleepSeconds = (hook: Obj | undefined) => Number(/sleep (\d+)/.exec((hook?.exec?.command as string[] | undefined)?.join(' ') ?? '')?.[1] ?? 0);

t.test('every manifest parses and has apiVersion, kind and a name', async (t) => {
  t.ok(resources.length >= 6);
  for (const r of resources) {
    t.ok(r.apiVersion && r.kind && r.metadata?.name, `${r.__file}: ${r.kind}/${r.metadata?.name}`);
  }
  for (const kind of ['ServiceAccount', 'Deployment', 'Service']) t.equal(find(kind).length, 1, kind);
  t.equal(find('ConfigMap').length, 2, 'one ConfigMap per container config');
});

t.test('ConfigMaps hold the shipped configs verbatim, and the sidecar config is valid', async (t) => {
  t.equal(envoyText, read('envoy/envoy.yaml'), 'envoy.yaml is envoy/envoy.yaml');
  t.equal(sidecarText, read('config/kubernetes.yaml'), 'config.yaml is config/kubernetes.yaml');
  t.doesNotThrow(sidecarConfig);
  t.same(sidecar.args, ['--config', '/etc/lambda-extproc/config.yaml'], 'the sidecar reads the mounted file');
  // The image's entrypoint with one Node flag added, and only where a CPU limit makes it pay.
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1] ?? 'null') as string[];
  t.same(sidecar.command, [entrypoint[0], '--single-threaded-gc', ...entrypoint.slice(1)], "the image's entrypoint plus --single-threaded-gc");
  t.ok(sidecar.resources?.limits?.cpu, 'which is there for the CPU limit');
  t.match((envoy.args as string[]).join(' '), /-c \/etc\/envoy\/envoy\.yaml/);
});

t.test('IRSA: the Pod runs as the ServiceAccount annotated with an IAM role ARN', async (t) => {
  const account = one('ServiceAccount');
  t.equal(pod.serviceAccountName, account.metadata.name);
  t.match(account.metadata.annotations['eks.amazonaws.com/role-arn'], /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/);
  t.equal(pod.securityContext.fsGroup, sidecar.securityContext.runAsGroup, 'the projected token is readable by the sidecar user');
  t.equal(kustomization.namespace, one('Namespace').metadata.name);
});

t.test('the sidecar listens on loopback, Envoy reaches it there, and its probes use the gRPC health service', async (t) => {
  const config = sidecarConfig();
  t.match(config.listen, /^127\.0\.0\.1:\d+$/, 'pod-local');
  t.notOk(sidecar.ports, 'no port on the Pod IP');
  const envoyConfig = parse(envoyText) as Obj;
  const endpoint = envoyConfig.static_resources.clusters.find((c: Obj) => c.name === 'lambda_extproc').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  t.equal(`${endpoint.address}:${endpoint.port_value}`, config.listen, "Envoy's cluster points at it");
  const ready = sidecar.readinessProbe.exec.command as string[];
  const live = sidecar.livenessProbe.exec.command as string[];
  t.same(ready, ['node', '/app/scripts/healthcheck.js', config.listen], 'readiness: SERVING');
  t.same(live, ['node', '/app/scripts/healthcheck.js', '--live', config.listen], 'liveness: answering, draining allowed');
  t.notOk(sidecar.readinessProbe.grpc, 'no kubelet gRPC probe: it would dial the Pod IP');
  t.ok(sidecar.readinessProbe.timeoutSeconds >= 3, "room for the script's 2 s deadline");
  t.match(read('Dockerfile'), /COPY scripts\/healthcheck\.js \.\/scripts\/healthcheck\.js/, 'the script is in the image at /app/scripts');
  t.match(read('Dockerfile'), /^WORKDIR \/app$/m);
});

t.test('Envoy serves :8000 through the Service; its probes match envoy.yaml', async (t) => {
  const envoyConfig = parse(envoyText) as Obj;
  const listenerPort = envoyConfig.static_resources.listeners[0].address.socket_address.port_value;
  const port = (envoy.ports as Obj[]).find((p) => p.name === 'http');
  t.equal(port?.containerPort, listenerPort);
  const service = one('Service');
  t.same(service.spec.selector, deployment.spec.selector.matchLabels, 'selects the Pods');
  t.same(deployment.spec.template.metadata.labels, { ...deployment.spec.template.metadata.labels, ...deployment.spec.selector.matchLabels });
  t.equal(service.spec.ports[0].targetPort, 'http', "targets Envoy's named port");
  const routes = envoyConfig.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes as Obj[];
  const probePath = envoy.readinessProbe.httpGet.path;
  const route = routes.find((r) => r.match.path === probePath);
  t.equal(route?.direct_response?.status, 200, `${probePath} is answered by Envoy`);
  t.equal(route?.typed_per_filter_config?.['envoy.filters.http.ext_proc']?.disabled, true, 'without a gRPC stream');
  const admin = envoyConfig.admin.address.socket_address;
  t.match(envoy.livenessProbe.exec.command.join(' '), `/dev/tcp/${admin.address}/${admin.port_value}`, 'liveness asks the admin port');
  t.match(envoy.lifecycle.preStop.exec.command.join(' '), `/dev/tcp/${admin.address}/${admin.port_value}`, 'preStop drains through the admin port');
  t.match(envoy.lifecycle.preStop.exec.command.join(' '), /POST \/drain_listeners\?graceful/);
  t.match(envoy.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  const compose = parse(read('docker-compose.yml')) as Obj;
  t.equal(envoy.image, compose.services.envoy.image, 'the same Envoy as docker compose');
});

t.test('shutdown: grace period > Envoy preStop >= sidecar preStop + drain_timeout > drain_timeout', async (t) => {
  const drainSeconds = sidecarConfig().drain_timeout / 1000;
  const grace = pod.terminationGracePeriodSeconds as number;
  const sidecarWait = sleepSeconds(sidecar.lifecycle?.preStop);
  const envoyWait = sleepSeconds(envoy.lifecycle?.preStop);
  t.ok(grace > drainSeconds, `terminationGracePeriodSeconds ${grace} > drain_timeout ${drainSeconds} s`);
  t.ok(sidecarWait > 0, 'the sidecar keeps serving while Envoy drains');
  const envoyDrain = Number((envoy.args as string[])[(envoy.args as string[]).indexOf('--drain-time-s') + 1]);
  t.ok(envoyDrain < sidecarWait, `Envoy closes its listeners (${envoyDrain} s) before the sidecar stops taking streams (${sidecarWait} s)`);
  t.ok(envoyWait >= sidecarWait + drainSeconds, `Envoy (${envoyWait} s) outlives the sidecar's drain (${sidecarWait} + ${drainSeconds} s)`);
  t.ok(grace > envoyWait, `the grace period (${grace} s) covers Envoy's preStop`);
});

t.test('both containers run non-root, read-only, without privileges, with resources set', async (t) => {
  t.equal(pod.securityContext.runAsNonRoot, true);
  const dockerUser = /^USER (\d+)/m.exec(read('Dockerfile'))?.[1];
  t.equal(String(sidecar.securityContext.runAsUser), dockerUser, "the image's user");
  for (const c of [envoy, sidecar]) {
    t.ok(c.securityContext.runAsUser > 0, `${c.name}: non-root uid`);
    t.equal(c.securityContext.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
    t.equal(c.securityContext.readOnlyRootFilesystem, true, `${c.name}: read-only root`);
    t.same(c.securityContext.capabilities.drop, ['ALL'], `${c.name}: no capabilities`);
    t.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${c.name}: requests`);
    t.ok(c.resources?.limits?.memory, `${c.name}: memory limit`);
    t.ok(c.readinessProbe && c.livenessProbe, `${c.name}: probes`);
  }
});

t.test('kustomization lists every manifest in the directory and names the sidecar image', async (t) => {
  const { readdirSync } = await import('node:fs');
  const manifests = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  t.same([...(kustomization.resources as string[])].sort(), manifests);
  t.equal(kustomization.images[0].name, sidecar.image, 'the image override applies to the sidecar');
});
