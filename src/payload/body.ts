// What Kong's kong.request.get_body() makes of a request body.
import type { HeaderList } from '../http';
import { headerValue } from '../http';
import { addArg, parseArgs, type Args } from './args';

export type BodyArgs =
  | { readonly kind: 'args'; readonly value: Args | unknown[] } // parsed form, JSON object/array, multipart
  | { readonly kind: 'unsupported' } // no or unknown content type: Kong's "unsupported" error
  | { readonly kind: 'invalid' }; // the content type is known but the body does not parse

export function mediaTypeOf(headers: HeaderList): string | undefined {
  const raw = headerValue(headers, 'content-type');
  if (raw === undefined) return undefined;
  return (raw.split(';')[0] ?? '').trim().toLowerCase();
}

export function parseBodyArgs(headers: HeaderList, body: Buffer | null): BodyArgs {
  const type = mediaTypeOf(headers);
  if (type === undefined) return { kind: 'unsupported' };
  // Decoded only for the types that parse as text: other bodies may be large and binary.
  const text = (): string => (body === null ? '' : body.toString('utf8'));
  if (type.startsWith('application/x-www-form-urlencoded')) return { kind: 'args', value: parseArgs(text()) };
  if (type.startsWith('application/json')) {
    try {
      const value: unknown = JSON.parse(text());
      if (value !== null && typeof value === 'object') return { kind: 'args', value: value as Args | unknown[] };
    } catch {
      // falls through: Kong's get_body fails and the body adds no arguments
    }
    return { kind: 'invalid' };
  }
  if (type.startsWith('multipart/form-data')) {
    const parsed = parseMultipart(headerValue(headers, 'content-type') ?? '', body ?? Buffer.alloc(0));
    return parsed === undefined ? { kind: 'invalid' } : { kind: 'args', value: parsed };
  }
  return { kind: 'unsupported' };
}

// Field values of a multipart/form-data body (file parts included as text,
// as Kong's multipart parser returns them); repeated names become arrays.
function parseMultipart(contentType: string, body: Buffer): Args | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2];
  if (marker === undefined) return undefined;
  const parts = body.toString('latin1').split(`--${marker.trim()}`);
  const args: Args = {};
  for (const part of parts.slice(1)) {
    if (part.startsWith('--')) break;
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) continue;
    const head = part.slice(0, split);
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    addArg(args, name, Buffer.from(part.slice(split + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8'));
  }
  return args;
}
