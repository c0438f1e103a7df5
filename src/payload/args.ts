// Query and form argument parsing with OpenResty's rules, which Kong's
// payloads are made of: repeated keys become arrays, a key without `=` is
// `true`, `+` is a space, bad percent escapes are kept as they are.

export type ArgValue = string | boolean | Array<string | boolean>;
export type Args = Record<string, ArgValue>;

/** OpenResty's default lua_max_uri_args / lua_max_post_args. */
export const MAX_ARGS = 100;

export function parseArgs(text: string): Args {
  const args: Args = {};
  if (text === '') return args;
  let count = 0;
  for (const part of text.split('&')) {
    if (part === '') continue;
    if (count++ >= MAX_ARGS) break;
    const eq = part.indexOf('=');
    const key = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    if (key === '') continue;
    addArg(args, key, eq === -1 ? true : decodeComponent(part.slice(eq + 1)));
  }
  return args;
}

/**
 * Adds one value under `key`; a repeated key becomes an array. Keys are
 * client text: an inherited name (`toString`) is not a value already there,
 * and `__proto__` is stored as a field rather than setting the prototype.
 * (A null-prototype object copied out at the end does the same, ten times slower.)
 */
export function addArg(args: Args, key: string, value: string | boolean): void {
  const existing = ownField(args, key);
  if (existing === undefined) setField<ArgValue>(args, key, value);
  else if (Array.isArray(existing)) existing.push(value);
  else args[key] = [existing, value];
}

/** The record's own value under a client's `key`: an inherited name (`constructor`) is no value. */
export function ownField<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Sets a client's `key` as a plain field: `__proto__` too, rather than the prototype. */
export function setField<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

function decodeComponent(text: string): string {
  const spaced = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Decode the valid escapes one by one, keep the rest literally.
    return spaced.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}
