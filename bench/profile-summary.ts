// Reads a V8 .cpuprofile (node --cpu-prof) and ranks where the time went:
// functions by self time, and areas (npm package, node internals, our code)
// by self time and by inclusive time (any frame of the area on the stack).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
}

export interface Ranked {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly Ranked[];
  readonly areasSelf: readonly Ranked[];
  readonly areasInclusive: readonly Ranked[];
}

const IDLE = new Set(['(idle)']);

export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return `lambda-extproc ${url.slice(dist + '/dist/'.length).replace(/\.js$/, '')}`;
  return url;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalHits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const msPerHit = totalHits === 0 ? 0 : (profile.endTime - profile.startTime) / 1000 / totalHits;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const areasSelf = new Map<string, number>();
  const areasInclusive = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  const add = (map: Map<string, number>, key: string, ms: number): void => {
    map.set(key, (map.get(key) ?? 0) + ms);
  };
  // Depth-first from the root, carrying the set of areas on the stack.
  const root = profile.nodes[0];
  const stack: Array<{ node: ProfileNode; areas: ReadonlySet<string> }> = root === undefined ? [] : [{ node: root, areas: new Set() }];
  while (stack.length > 0) {
    const { node, areas } = stack.pop() as { node: ProfileNode; areas: ReadonlySet<string> };
    const frame = node.callFrame;
    const area = areaOf(frame.url, frame.functionName);
    const here = frame.functionName === '(root)' ? areas : new Set([...areas, area]);
    const ms = (node.hitCount ?? 0) * msPerHit;
    if (IDLE.has(frame.functionName)) idleMs += ms;
    else if (ms > 0) {
      busyMs += ms;
      const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${frame.lineNumber + 1}`;
      add(functions, `${frame.functionName || '(anonymous)'}${where}`, ms);
      add(areasSelf, area, ms);
      // Node internals and natives are on almost every stack: only packages and our files are ranked inclusively.
      for (const a of here) if (!a.startsWith('node:') && !a.startsWith('(')) add(areasInclusive, a, ms);
    }
    for (const child of node.children ?? []) {
      const next = byId.get(child);
      if (next !== undefined) stack.push({ node: next, areas: here });
    }
  }
  const rank = (map: Map<string, number>): Ranked[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: busyMs === 0 ? 0 : ms / busyMs }));
  return { busyMs, idleMs, functions: rank(functions), areasSelf: rank(areasSelf), areasInclusive: rank(areasInclusive) };
}

export function formatProfileSummary(summary: ProfileSummary, top = 15): string {
  const list = (items: readonly Ranked[]): string => items.slice(0, top).map((r) => `  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`).join('\n');
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    'self time by function:',
    list(summary.functions),
    'self time by area:',
    list(summary.areasSelf),
    'inclusive time by area (area anywhere on the stack):',
    list(summary.areasInclusive),
  ].join('\n');
}
