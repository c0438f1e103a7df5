// An independent SigV4 verifier for the loopback AWS fakes: recomputes the
// signature from the raw request with node:crypto, as AWS does.
import { createHash, createHmac } from 'node:crypto';

export interface SignedRequest {
  readonly method: string;
  /** Raw request target as received: path and query, still percent-encoded. */
  readonly url: string;
  /** Lower-case names; repeated headers joined with ','. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export type Verification =
  | { ok: true; accessKeyId: string; region: string; service: string; sessionToken: string | undefined }
  | { ok: false; code: 'MissingAuthenticationToken' | 'UnrecognizedClientException' | 'InvalidSignatureException'; message: string; accessKeyId?: string };

export function verifySigV4(request: SignedRequest, secretOf: (accessKeyId: string) => string | undefined): Verification {
  const auth = header(request, 'authorization');
  if (auth === undefined) return { ok: false, code: 'MissingAuthenticationToken', message: 'Missing Authentication Token' };
  const parsed = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (parsed === null) return { ok: false, code: 'InvalidSignatureException', message: 'Authorization header is malformed' };
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = parsed;
  const secret = secretOf(accessKeyId);
  if (secret === undefined) return { ok: false, code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.', accessKeyId };
  const amzDate = header(request, 'x-amz-date');
  if (amzDate === undefined || !amzDate.startsWith(date)) return { ok: false, code: 'InvalidSignatureException', message: 'X-Amz-Date is missing or does not match the credential scope', accessKeyId };
  const [rawPath = '/', rawQuery = ''] = splitOnce(request.url, '?');
  const canonicalUri = rawPath
    .split('/')
    .map((segment) => strictEncode(safeDecode(segment)))
    .map((segment) => strictEncode(segment))
    .join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => splitOnce(part, '='))
    .map(([k = '', v = '']) => [strictEncode(safeDecode(k.replace(/\+/g, ' '))), strictEncode(safeDecode(v.replace(/\+/g, ' ')))] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((name) => `${name}:${(header(request, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = sha256(request.body);
  const claimed = header(request, 'x-amz-content-sha256');
  // AWS checks a sent payload hash against the body it received.
  if (claimed !== undefined && claimed !== payloadHash && claimed !== 'UNSIGNED-PAYLOAD') {
    return { ok: false, code: 'InvalidSignatureException', message: 'The provided x-amz-content-sha256 header does not match what was computed.', accessKeyId };
  }
  const canonicalRequest = [request.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, claimed ?? payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(Buffer.from(canonicalRequest))].join('\n');
  const key = [date, region, service, 'aws4_request'].reduce<Buffer>((k, part) => hmac(k, part), Buffer.from(`AWS4${secret}`));
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  if (expected !== signature) {
    return { ok: false, code: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.', accessKeyId };
  }
  if (!names.includes('host')) return { ok: false, code: 'InvalidSignatureException', message: 'host must be a signed header', accessKeyId };
  return { ok: true, accessKeyId, region, service, sessionToken: header(request, 'x-amz-security-token') };
}

function header(request: SignedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function splitOnce(text: string, separator: string): [string, string] {
  const index = text.indexOf(separator);
  return index === -1 ? [text, ''] : [text.slice(0, index), text.slice(index + 1)];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function strictEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
