// Which sidecar config ships with which Envoy config, read from the files that
// put them together (docker-compose.yml's mounts and commands; the
// kustomization's generators and the Deployment's mounts and args), and each
// pair's message timeouts compared: Envoy's message_timeout must equal the
// sidecar's envoy_message_timeout, or Envoy answers 504 before the sidecar's
// override_message_timeout goes out (when the sidecar's is larger).
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { formatProblems, parseConfig } from '../../src/config/load';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Pair {
  readonly shippedBy: string;
  readonly envoy: string;
  readonly sidecar: string;
}

/** The value following `flag` in an argument list. */
function argAfter(args: readonly string[], flag: string): string {
  const at = args.indexOf(flag);
  if (at < 0 || at + 1 >= args.length) throw new Error(`no ${flag} in ${JSON.stringify(args)}`);
  return args[at + 1]!;
}

function composePair(): Pair {
  const compose = parse(read('docker-compose.yml')) as Obj;
  // A bind mount "./host:/container[:ro]" whose container path is `target`.
  const mounted = (service: Obj, target: string): string => {
    const volume = (service.volumes as string[]).find((v) => v.split(':')[1] === target);
    if (volume === undefined) throw new Error(`nothing mounted at ${target}`);
    return relative(ROOT, join(ROOT, volume.split(':')[0]!));
  };
  const envoy = compose.services.envoy as Obj;
  const sidecar = compose.services['lambda-extproc'] as Obj;
  // The sidecar runs the image's CMD unless compose overrides it.
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1] ?? '[]') as string[];
  const sidecarArgs = (sidecar.command as string[] | undefined) ?? cmd;
  return {
    shippedBy: 'docker-compose.yml',
    envoy: mounted(envoy, argAfter(envoy.command as string[], '-c')),
    sidecar: mounted(sidecar, argAfter(sidecarArgs, '--config')),
  };
}

function kubernetesPair(): Pair {
  const dir = join(ROOT, 'deploy', 'kubernetes');
  // ConfigMap name + key -> the file kustomize generates it from, through the bases too.
  const sources = new Map<string, string>();
  const walk = (at: string): void => {
    const k = parse(readFileSync(join(at, 'kustomization.yaml'), 'utf8')) as Obj;
    for (const entry of (k.resources ?? []) as string[]) if (statSync(join(at, entry)).isDirectory()) walk(join(at, entry));
    for (const generator of (k.configMapGenerator ?? []) as Obj[]) {
      for (const spec of generator.files as string[]) {
        const [key, file] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [basename(spec), spec];
        sources.set(`${generator.name as string}/${key}`, relative(ROOT, join(at, file)));
      }
    }
  };
  walk(dir);
  const pod = (parse(readFileSync(join(dir, 'deployment.yaml'), 'utf8')) as Obj).spec.template.spec as Obj;
  const fileOf = (containerName: string, flag: string): string => {
    const container = (pod.containers as Obj[]).find((c) => c.name === containerName)!;
    const path = argAfter(container.args as string[], flag);
    const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === dirname(path));
    const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
    const source = sources.get(`${volume?.configMap?.name as string}/${basename(path)}`);
    if (source === undefined) throw new Error(`${containerName}: ${path} is not generated from a file`);
    return source;
  };
  return { shippedBy: 'deploy/kubernetes', envoy: fileOf('envoy', '-c'), sidecar: fileOf('lambda-extproc', '--config') };
}

function envoyMessageTimeoutMs(file: string): number {
  const listeners = (parse(read(file)) as Obj).static_resources.listeners as Obj[];
  const filters = listeners.flatMap((l) => (l.filter_chains as Obj[]).flatMap((c) => c.filters as Obj[]));
  const extProc = filters.flatMap((f) => (f.typed_config?.http_filters ?? []) as Obj[]).find((f) => f.name === 'envoy.filters.http.ext_proc');
  const duration = /^(\d+(?:\.\d+)?)s$/.exec(String(extProc?.typed_config?.message_timeout));
  if (duration === null) throw new Error(`${file}: no ext_proc message_timeout`);
  return Math.round(Number(duration[1]) * 1000);
}

function sidecarMessageTimeoutMs(file: string): number {
  const loaded = parseConfig(read(file), {});
  if (!loaded.ok) throw new Error(`${file}:\n${formatProblems(loaded.problems)}`);
  return loaded.config.envoy_message_timeout;
}

const pairs = [composePair(), kubernetesPair()];

t.test('the shipped pairs, as their deployment files put them together', async (t) => {
  t.same(
    pairs.map((p) => `${p.shippedBy}: ${p.envoy} + ${p.sidecar}`),
    ['docker-compose.yml: envoy/envoy.compose.yaml + config/docker-compose.yaml', 'deploy/kubernetes: envoy/envoy.yaml + config/kubernetes.yaml'],
  );
});

for (const pair of pairs) {
  t.test(`${pair.shippedBy}: Envoy's message_timeout equals the sidecar's envoy_message_timeout`, async (t) => {
    const envoy = envoyMessageTimeoutMs(pair.envoy);
    const sidecar = sidecarMessageTimeoutMs(pair.sidecar);
    t.equal(envoy, sidecar, `${pair.envoy} message_timeout ${envoy} ms = ${pair.sidecar} envoy_message_timeout ${sidecar} ms`);
  });

  t.test(`${pair.shippedBy}: each file's comment names the other`, async (t) => {
    t.match(read(pair.envoy), `envoy_message_timeout in the sidecar config it\n`, 'the rule is stated');
    t.match(read(pair.envoy).replace(/\n\s*# /g, ' '), pair.sidecar, `${pair.envoy} names ${pair.sidecar}`);
    t.match(read(pair.sidecar), `Pairs with ${pair.envoy}`, `${pair.sidecar} names ${pair.envoy}`);
  });
}
