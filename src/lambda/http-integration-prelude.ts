// Lambda's HTTP-integration stream format (function URLs; Node's
// awslambda.HttpResponseStream.from): a JSON prelude {statusCode, headers,
// cookies}, eight NUL bytes, then the body. The prelude may arrive in several
// chunks, or share one with the first body bytes.
import { LambdaExtprocError } from '../errors';
import { HOP_BY_HOP_HEADERS, type HeaderList } from '../http';
import { headerLineProblem } from './header-rules';
import { valueReason } from './proxy-output';

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** The largest prelude read before its delimiter: far above Envoy's 60 KiB header limit. */
export const PRELUDE_LIMIT = 64 * 1024;

const DELIMITER = Buffer.alloc(8);

export interface PreludeHead {
  readonly status: number;
  /** The prelude's headers and cookies (as set-cookie lines), lower-case names. */
  readonly headers: HeaderList;
}

export interface PreludedStream {
  readonly head: PreludeHead;
  /** The body after the delimiter, in the chunks it came in. */
  readonly body: AsyncIterable<Buffer>;
}

// Lengths are Envoy's to set on a stream; hop-by-hop headers are not the function's to set.
const NOT_FROM_PAYLOAD = new Set([...HOP_BY_HOP_HEADERS, 'content-length']);

/** Reads the prelude off the front of `chunks`; the rest of the stream is read only when `body` is pulled. */
export async function readPrelude(chunks: AsyncIterable<Buffer>): Promise<PreludedStream> {
  const iterator = chunks[Symbol.asyncIterator]();
  let seen: Buffer = Buffer.alloc(0);
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) throw badPrelude(seen.length === 0 ? 'the stream ended before the HTTP-integration prelude' : 'the prelude is not followed by eight NUL bytes');
    // Search from 7 bytes back: the delimiter may straddle two chunks.
    const from = Math.max(0, seen.length - (DELIMITER.length - 1));
    seen = seen.length === 0 ? next.value : Buffer.concat([seen, next.value]);
    const at = seen.indexOf(DELIMITER, from);
    if (at === -1) {
      if (seen.length > PRELUDE_LIMIT) throw badPrelude(`the prelude passed ${PRELUDE_LIMIT} bytes without its delimiter`);
      continue;
    }
    if (at > PRELUDE_LIMIT) throw badPrelude(`the prelude passed ${PRELUDE_LIMIT} bytes`);
    const head = parsePrelude(seen.subarray(0, at));
    const rest = seen.subarray(at + DELIMITER.length);
    return { head, body: continueWith(rest, iterator) };
  }
}

/** Validates a prelude's JSON as buffered proxy output is validated. Exported for its unit tests. */
export function parsePrelude(bytes: Buffer): PreludeHead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw badPrelude(error instanceof Error ? error.message : String(error));
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badPrelude('the prelude must be a JSON object');
  const prelude = parsed as Record<string, unknown>;
  // Function URLs answer 200 when the prelude names no status.
  const status = prelude.statusCode === undefined ? 200 : toStatus(prelude.statusCode);
  const headers: Array<readonly [string, string]> = [];
  if (prelude.headers !== undefined && prelude.headers !== null) {
    if (typeof prelude.headers !== 'object' || Array.isArray(prelude.headers)) throw badPrelude('headers must be an object');
    for (const [rawName, value] of Object.entries(prelude.headers as Record<string, unknown>)) {
      const name = rawName.toLowerCase();
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') throw badPrelude(`headers.${rawName} must be a string, number, boolean or an array of them`);
        const line = String(item);
        // The rule every header line that leaves through us follows (header-rules.ts), with buffered proxy output's reasons.
        const problem = headerLineProblem(rawName, line);
        if (problem !== undefined) throw badPrelude(`headers.${rawName} ${valueReason(problem)}`);
        if (!NOT_FROM_PAYLOAD.has(name)) headers.push([name, line]);
      }
    }
  }
  if (prelude.cookies !== undefined && prelude.cookies !== null) {
    if (!Array.isArray(prelude.cookies) || prelude.cookies.some((c) => typeof c !== 'string')) throw badPrelude('cookies must be an array of strings');
    for (const cookie of prelude.cookies as string[]) {
      const problem = headerLineProblem('set-cookie', cookie);
      if (problem !== undefined) throw badPrelude(`cookies ${valueReason(problem)}`);
      headers.push(['set-cookie', cookie]);
    }
  }
  return { status, headers };
}

/** `first` (unless empty), then the rest of an iterator that was read up to it. */
export async function* continueWith(first: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  try {
    if (first.length > 0) yield first;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    // Leaving early (or failing) closes the source too, which closes the Lambda connection.
    await rest.return?.();
  }
}

function toStatus(value: unknown): number {
  const status = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isInteger(status) || status < 100 || status > 599) throw badPrelude('statusCode must be an integer from 100 to 599');
  return status;
}

function badPrelude(reason: string): LambdaExtprocError {
  const detail = `invalid HTTP-integration response stream: ${reason}`;
  return new LambdaExtprocError('bad_function_output', detail, { publicDetail: detail });
}
