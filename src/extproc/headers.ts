// HeaderMap ⇄ header lists. Envoy sends values in raw_value (older Envoys in
// value); we write raw_value only, since Envoy rejects entries with both.
// raw_value is the client's bytes: read as UTF-8 (header-text.ts).
import { headerTextFromBytes } from '../header-text';
import { HOP_BY_HOP_HEADERS, type HeaderList } from '../http';
import type { SetHeader } from './encode-immediate';
import type { HeaderMap } from './messages';

/** The pseudo-headers the request head is made of (others, such as :protocol, are not kept). */
export interface PseudoHeaders {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly authority: string | undefined;
  readonly scheme: string | undefined;
}

export interface SplitHeaders {
  readonly pseudo: PseudoHeaders;
  readonly regular: HeaderList;
}

// The four pseudo-headers are plain fields: a Map per request cost more than the rest of the reading.
export function readHeaderMap(map: HeaderMap | undefined): SplitHeaders {
  let method: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let scheme: string | undefined;
  const regular: Array<readonly [string, string]> = [];
  for (const entry of map?.headers ?? []) {
    const name = entry.key.toLowerCase();
    const value = entry.raw_value !== undefined && entry.raw_value.length > 0 ? headerTextFromBytes(entry.raw_value) : (entry.value ?? '');
    if (!name.startsWith(':')) regular.push([name, value]);
    else if (name === ':method') method = value;
    else if (name === ':path') path = value;
    else if (name === ':authority') authority = value;
    else if (name === ':scheme') scheme = value;
  }
  return { pseudo: { method, path, authority, scheme }, regular };
}

// Envoy drops these from local replies anyway, or recomputes them.
const NOT_SENT = new Set([...HOP_BY_HOP_HEADERS, 'content-length', 'host']);

/**
 * Header lines → set_headers entries. The first line of a name overwrites
 * (append: false); further lines of the same name append, which is how
 * several set-cookie or multi-value headers reach the client.
 */
export function toSetHeaders(headers: HeaderList): SetHeader[] {
  const set: SetHeader[] = [];
  // Names seen, kept only for long lists: a short one is searched in `set` itself, without a Set per answer.
  let seen: Set<string> | undefined;
  for (const [rawName, value] of headers) {
    // Names are nearly always lower-case already: toLowerCase would still copy each.
    const name = UPPER_CASE.test(rawName) ? rawName.toLowerCase() : rawName;
    if (name.startsWith(':') || NOT_SENT.has(name)) continue;
    if (seen === undefined && set.length === SHORT_LIST) seen = new Set(set.map((header) => header.name));
    const append = seen === undefined ? hasName(set, name) : seen.has(name);
    set.push({ name, value, append });
    seen?.add(name);
  }
  return set;
}

// Up to this many entries a linear search beats building a Set.
const SHORT_LIST = 16;
const UPPER_CASE = /[A-Z]/;

function hasName(set: readonly SetHeader[], name: string): boolean {
  for (let i = 0; i < set.length; i++) if ((set[i] as SetHeader).name === name) return true;
  return false;
}
