// Reads, expands, validates and freezes the config file. Every problem is
// reported at once, each with its field path.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema';

export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    return { ok: false, problems: [{ path: file, message: `cannot read config file (${code})` }] };
  }
  return parseConfig(text, env);
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  // Plain messages (prettyErrors would append "at line L, column C:" and a
  // code excerpt); the position is given once, as the problem's path.
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { path: `line ${line}, column ${col}`, message: `invalid YAML: ${e.message}` };
      }),
    };
  }
  const problems: ConfigProblem[] = [];
  // An empty file is an empty mapping, so the missing fields get named.
  const expanded = expandEnv(doc.toJS() ?? {}, [], env, problems);
  const withDefaults = applyDefaults(expanded);
  const result = configSchema.safeParse(withDefaults, { error: requiredMessage });
  // A field whose ${VAR} is unset is reported for that alone, not again for
  // the empty string that stood in for it (in `defaults`: nor in the routes
  // that inherit it).
  const unset = new Set(problems.map((p) => p.path));
  const inheritsUnset = (path: string): boolean => {
    const found = /^routes\[(\d+)\]\.(\w+)$/.exec(path);
    if (found === null || !unset.has(`defaults.${found[2]}`)) return false;
    const route: unknown = isRecord(expanded) && Array.isArray(expanded.routes) ? expanded.routes[Number(found[1])] : undefined;
    return isRecord(route) && !(found[2]! in route);
  };
  if (!result.success) problems.push(...result.error.issues.map(toProblem).filter((p) => !unset.has(p.path) && !inheritsUnset(p.path)));
  if (problems.length > 0 || !result.success) return { ok: false, problems };
  return { ok: true, config: deepFreeze(result.data) };
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

// `${NAME}` in any string value is replaced from the environment, so secrets
// need not sit in the file. `$${` escapes a literal `${`.
function expandEnv(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
      if (whole.startsWith('$$')) return whole.slice(1);
      const found = env[name];
      if (found === undefined) {
        problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => expandEnv(item, [...path, index], env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandEnv(item, [...path, key], env, problems)]));
  }
  return value;
}

// Route fields fall back to `defaults`, then to Kong's defaults in the schema.
function applyDefaults(raw: unknown): unknown {
  if (!isRecord(raw) || !Array.isArray(raw.routes)) return raw;
  const defaults = isRecord(raw.defaults) ? raw.defaults : {};
  return { ...raw, routes: raw.routes.map((route: unknown) => (isRecord(route) ? { ...defaults, ...route } : route)) };
}

// zod says "expected string, received undefined" for a missing field.
function requiredMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined;
}

function toProblem(issue: z.core.$ZodIssue): ConfigProblem {
  if (issue.code === 'unrecognized_keys') {
    return { path: formatPath(issue.path), message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}` };
  }
  return { path: formatPath(issue.path), message: issue.message };
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out === '' ? String(key) : `${out}.${String(key)}`), '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
