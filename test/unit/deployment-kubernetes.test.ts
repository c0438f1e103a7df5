// deploy/kubernetes/: every manifest parsed, and the Pod cross-checked against
// lambda-extproc's config (listen address, drain timeout), the Envoy config
// (ports, admin) and the Dockerfile (user, health check script). The
// kustomization is read as kustomize reads it (resources, bases,
// configMapGenerator), so no kubectl is needed; with kubectl present, its
// own build is checked too.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { formatProblems, parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';

const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'kubernetes');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Obj;

/** One configMapGenerator file: the ConfigMap key and the file (repository-relative) it is read from. */
interface GeneratedFile {
  readonly configMap: string;
  readonly key: string;
  readonly source: string;
  /** The kustomization whose generator names it; kustomize reads only files inside its directory. */
  readonly root: string;
}
const generatedFiles: GeneratedFile[] = [];

// resources: manifest files, or directories holding a kustomization (bases),
// whose configMapGenerators become ConfigMaps as kustomize makes them.
function loadResources(dir: string): Obj[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const fromResources = ((k.resources ?? []) as string[]).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return loadResources(path);
    return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${entry}: ${doc.errors[0]!.message}`);
      return { ...(doc.toJS() as Obj), __file: relative(ROOT, path) };
    });
  });
  const generated = ((k.configMapGenerator ?? []) as Obj[]).map((generator) => {
    const data: Record<string, string> = {};
    for (const spec of generator.files as string[]) {
      const [key, file] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [basename(spec), spec];
      generatedFiles.push({ configMap: generator.name as string, key, source: relative(ROOT, join(dir, file)), root: relative(ROOT, dir) });
      data[key] = readFileSync(join(dir, file), 'utf8');
    }
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name, labels: generator.options?.labels }, data, __file: `${relative(ROOT, dir)}/kustomization.yaml` };
  });
  return [...fromResources, ...generated];
}
const resources: Obj[] = loadResources(DIR);
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
  for (const kind of ['ServiceAccount', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']) t.equal(find(kind).length, 1, kind);
  t.equal(find('ConfigMap').length, 2, 'one ConfigMap per container config');
});

t.test('the ConfigMaps are generated from the one copy of each config; no hand-written copy remains', async (t) => {
  t.same(
    generatedFiles.map((g) => `${g.configMap}/${g.key} <- ${g.source}`).sort(),
    ['envoy-config/envoy.yaml <- envoy/envoy.yaml', 'lambda-extproc-config/config.yaml <- config/kubernetes.yaml'],
  );
  for (const g of generatedFiles) {
    t.ok(existsSync(join(ROOT, g.source)), `${g.source} exists`);
    // kustomize refuses a generator file outside its kustomization's directory ("security; file ... is not in or below").
    t.notOk(relative(g.root, g.source).startsWith('..'), `${g.source} lies inside ${g.root}/, where kubectl apply -k may read it`);
    t.equal(parseAllDocuments(read(g.source)).flatMap((doc) => doc.errors).length, 0, `${g.source} parses as YAML`);
  }
  t.equal(envoyText, read('envoy/envoy.yaml'), "Envoy's mounted envoy.yaml is envoy/envoy.yaml");
  t.equal(sidecarText, read('config/kubernetes.yaml'), "the sidecar's mounted config.yaml is config/kubernetes.yaml");
  t.doesNotThrow(sidecarConfig);
  t.notOk(existsSync(join(DIR, 'configmap.yaml')), 'configmap.yaml is gone');
  for (const file of readdirSync(DIR)) {
    const text = readFileSync(join(DIR, file), 'utf8');
    t.notMatch(text, /^kind: ConfigMap$/m, `${file}: no hand-written ConfigMap`);
    t.notMatch(text, /static_resources|envoy_message_timeout|function_name/, `${file}: no copy of either config`);
  }
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
  const manifests = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  const listed = kustomization.resources as string[];
  t.same(listed.filter((entry) => !entry.startsWith('../')).sort(), manifests);
  t.same(listed.filter((entry) => entry.startsWith('../')).sort(), ['../../config', '../../envoy'], 'the two config bases');
  t.equal(kustomization.images[0].name, sidecar.image, 'the image override applies to the sidecar');
});

t.test('HPA: autoscaling/v2 on CPU utilization, at least 2 Pods, aimed at the Deployment, whose containers all request CPU', async (t) => {
  const hpa = one('HorizontalPodAutoscaler');
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  t.same(hpa.spec.scaleTargetRef, { apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
  t.ok(hpa.spec.minReplicas >= 2, `minReplicas ${hpa.spec.minReplicas} >= 2: a second Pod serves while one is drained`);
  t.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
  t.same(hpa.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: hpa.spec.metrics[0].resource.target.averageUtilization } } }]);
  const target = hpa.spec.metrics[0].resource.target.averageUtilization as number;
  t.ok(target > 0 && target <= 100, `averageUtilization ${target} %`);
  // Utilization is usage over the sum of the Pod's CPU requests: one container without a request and the HPA cannot scale.
  for (const c of pod.containers as Obj[]) {
    t.ok(c.resources?.requests?.cpu, `${c.name}: CPU request`);
    t.ok(c.resources?.limits?.cpu && c.resources?.limits?.memory, `${c.name}: limits`);
  }
  t.equal(deployment.spec.replicas, undefined, 'no replicas in the Deployment: the HPA owns the count, kubectl apply would reset it');
  t.same(hpa.metadata.labels, deployment.metadata.labels);
});

t.test('PDB: policy/v1, one Pod at a time, selecting exactly the Deployment\'s Pods', async (t) => {
  const pdb = one('PodDisruptionBudget');
  const hpa = one('HorizontalPodAutoscaler');
  t.equal(pdb.apiVersion, 'policy/v1');
  t.same(pdb.spec.selector, deployment.spec.selector, "the Deployment's selector");
  t.same(pdb.spec.selector.matchLabels, one('Service').spec.selector, "and the Service's");
  t.same({ ...deployment.spec.template.metadata.labels, ...pdb.spec.selector.matchLabels }, deployment.spec.template.metadata.labels, "the Pods' labels match it");
  t.equal(pdb.spec.maxUnavailable, 1, 'drains evict one Pod at a time, at any scale');
  t.equal(pdb.spec.minAvailable, undefined, 'one of minAvailable / maxUnavailable');
  t.ok(hpa.spec.minReplicas - pdb.spec.maxUnavailable >= 1, 'at the smallest scale a Pod still serves during a drain');
  t.equal(pdb.spec.unhealthyPodEvictionPolicy, 'AlwaysAllow', 'a Pod that is not Ready cannot block a drain');
  t.same(pdb.metadata.labels, deployment.metadata.labels);
});

t.test('IRSA: IMDS is off in the sidecar, so a missing IRSA fails at once instead of reaching the node role', async (t) => {
  const env = (sidecar.env ?? []) as Obj[];
  t.same(env.find((e) => e.name === 'AWS_EC2_METADATA_DISABLED'), { name: 'AWS_EC2_METADATA_DISABLED', value: 'true' });
  t.notOk(env.some((e) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|ROLE_ARN|WEB_IDENTITY_TOKEN_FILE)$/.test(e.name)), 'no keys, and EKS injects the IRSA variables itself');
  const account = one('ServiceAccount');
  t.equal(`${kustomization.namespace}/${account.metadata.name}`, 'lambda-gateway/lambda-gateway', 'the names the role trust policy must carry');
  t.equal(account.metadata.annotations['eks.amazonaws.com/role-arn'], 'arn:aws:iam::111122223333:role/lambda-gateway-invoke');
  t.equal(sidecarConfig().defaults?.aws_region, 'us-east-1', 'the region, in the config');
});

const kubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
})();

t.test('kubectl kustomize builds it: ConfigMaps from the files, hashed names wired into the Deployment', { skip: kubectl ? false : 'kubectl not installed' }, async (t) => {
  const built = parseAllDocuments(execFileSync('kubectl', ['kustomize', DIR], { encoding: 'utf8', timeout: 60_000 })).map((doc) => doc.toJS() as Obj);
  const maps = built.filter((r) => r.kind === 'ConfigMap');
  const byPrefix = (prefix: string) => maps.find((m) => new RegExp(`^${prefix}-[a-z0-9]{10}$`).test(m.metadata.name as string));
  t.equal(maps.length, 2);
  t.equal(byPrefix('envoy-config')?.data['envoy.yaml'], read('envoy/envoy.yaml'));
  t.equal(byPrefix('lambda-extproc-config')?.data['config.yaml'], read('config/kubernetes.yaml'));
  const builtDeployment = built.find((r) => r.kind === 'Deployment')!;
  t.same(
    (builtDeployment.spec.template.spec.volumes as Obj[]).map((v) => v.configMap.name).sort(),
    maps.map((m) => m.metadata.name as string).sort(),
    'the volumes name the generated ConfigMaps',
  );
  t.ok(built.every((r) => r.kind === 'Namespace' || r.metadata.namespace === kustomization.namespace), 'everything in the namespace');
  t.same(built.map((r) => r.kind as string).sort(), resources.map((r) => r.kind as string).sort(), 'the same objects this test reads');
});
