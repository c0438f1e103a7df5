// Reads a decK file (YAML or JSON) into plain records. decK's
// `${{ env "DECK_X" }}` templates become our `${DECK_X}`, so secrets stay out.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

export type DeckRecord = Record<string, unknown>;

export type DeckReadResult = { ok: true; deck: DeckRecord } | { ok: false; problem: string };

const DECK_ENV = /\$\{\{\s*env\s+"([A-Za-z_][A-Za-z0-9_]*)"\s*\}\}/g;

export function readDeckFile(file: string): DeckReadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, problem: `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` };
  }
  return parseDeck(text);
}

export function parseDeck(text: string): DeckReadResult {
  // JSON is YAML, so one parser reads both decK formats.
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, problem: `not valid YAML/JSON: ${(doc.errors[0]?.message ?? '').split('\n')[0]}` };
  const value = fromDeckTemplates(doc.toJS());
  if (!isRecord(value)) return { ok: false, problem: 'not a decK file: the top level must be a mapping with services, routes or plugins' };
  return { ok: true, deck: value };
}

function fromDeckTemplates(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(DECK_ENV, (_whole, name: string) => `\${${name}}`);
  if (Array.isArray(value)) return value.map(fromDeckTemplates);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromDeckTemplates(item)]));
  return value;
}

export function isRecord(value: unknown): value is DeckRecord {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function recordsOf(value: unknown): DeckRecord[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

export function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** decK refers to a service or route by `name`/`id`, as a string or `{ name }` / `{ id }`. */
export function referenceOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value)) return stringOf(value.name) ?? stringOf(value.id);
  return undefined;
}
