// SigV4 for the one request shape the lean invoke path sends (POST Invoke):
// the canonical request's fixed parts are built once per route and the
// signing key once per day and secret. Measured at ≈ 8 µs a request against
// ≈ 35 µs for @smithy/signature-v4's general signer; the test fakes check
// every signature with their own independent implementation.
import { createHmac, hash } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * A credential provider that may also tell, without waiting, which credentials
 * it would hand out now with no fetch (CachingProvider.fresh). The provider
 * stays the authority on refresh: the signer asks it on every request.
 */
export interface SigningCredentials extends AwsCredentialIdentityProvider {
  readonly fresh?: () => AwsCredentialIdentity | undefined;
}

export interface InvokeSigningSettings {
  readonly credentials: SigningCredentials;
  readonly region: string;
  /** The Host header as sent: host, and :port when not the scheme's default. */
  readonly host: string;
  /** The request path as sent (labels already percent-encoded once). */
  readonly path: string;
  /** Qualifier, when the route has one. */
  readonly qualifier: string | undefined;
  readonly invocationType: string;
  readonly logType: string;
  /** Sent as user-agent, unsigned (as the SDK leaves it out of the signature). */
  readonly userAgent?: string;
}

/** Signs one Invoke body; returns the headers to send (signed ones included). */
export interface InvokeSigner {
  (body: Buffer): Promise<Record<string, string>>;
  /**
   * The same headers at once, when the provider holds credentials it would
   * hand out without a fetch (its `fresh()`); undefined otherwise (or when it
   * cannot tell): then call the signer itself, which waits for the provider.
   */
  now(body: Buffer): Record<string, string> | undefined;
}

const SERVICE = 'lambda';
const CONTENT_TYPE = 'application/octet-stream';

export function createInvokeSigner(settings: InvokeSigningSettings): InvokeSigner {
  // Non-S3 services sign the path encoded twice: every segment of the sent path once more.
  const canonicalPath = settings.path.split('/').map(uriEscape).join('/');
  const canonicalQuery = settings.qualifier === undefined ? '' : `Qualifier=${uriEscape(settings.qualifier)}`;
  const scopeSuffix = `/${settings.region}/${SERVICE}/aws4_request`;
  const provider = settings.credentials;
  let key: { secret: string; day: string; value: Buffer } | undefined;
  // X-Amz-Date has whole seconds: made once per second, not per request.
  let dateSecond = -1;
  let amzDate = '';

  const signingKey = (credentials: AwsCredentialIdentity, day: string): Buffer => {
    if (key === undefined || key.secret !== credentials.secretAccessKey || key.day !== day) {
      let value = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(day).digest();
      for (const part of [settings.region, SERVICE, 'aws4_request']) value = createHmac('sha256', value).update(part).digest();
      key = { secret: credentials.secretAccessKey, day, value };
    }
    return key.value;
  };

  const signWith = (credentials: AwsCredentialIdentity, body: Buffer): Record<string, string> => {
    const second = Math.floor(Date.now() / 1000);
    if (second !== dateSecond) {
      dateSecond = second;
      amzDate = new Date(second * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    }
    const day = amzDate.slice(0, 8);
    const token = credentials.sessionToken;
    const length = String(body.length);
    // One-shot hashes: no Hash object per digest (≈ 0.4 µs less each than createHash).
    const payloadHash = hash('sha256', body, 'hex');
    // Signed headers in lexical order, as SigV4 requires; the same set the AWS SDK signs.
    const canonicalHeaders =
      `content-length:${length}\ncontent-type:${CONTENT_TYPE}\nhost:${settings.host}\nx-amz-content-sha256:${payloadHash}\nx-amz-date:${amzDate}\n` +
      `x-amz-invocation-type:${settings.invocationType}\nx-amz-log-type:${settings.logType}\n` +
      (token === undefined ? '' : `x-amz-security-token:${token}\n`);
    const signedHeaders = `content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-invocation-type;x-amz-log-type${token === undefined ? '' : ';x-amz-security-token'}`;
    const canonicalRequest = `POST\n${canonicalPath}\n${canonicalQuery}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${day}${scopeSuffix}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
    const signature = createHmac('sha256', signingKey(credentials, day)).update(stringToSign).digest('hex');
    const headers: Record<string, string> = {
      host: settings.host,
      'content-type': CONTENT_TYPE,
      'content-length': length,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
      'x-amz-invocation-type': settings.invocationType,
      'x-amz-log-type': settings.logType,
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
    if (token !== undefined) headers['x-amz-security-token'] = token;
    if (settings.userAgent !== undefined) headers['user-agent'] = settings.userAgent;
    return headers;
  };

  const sign = async (body: Buffer): Promise<Record<string, string>> => signWith(await provider(), body);
  return Object.assign(sign, {
    now: (body: Buffer): Record<string, string> | undefined => {
      // Asked on every request: the provider decides when its credentials are due for a refresh.
      const credentials = provider.fresh?.();
      return credentials === undefined ? undefined : signWith(credentials, body);
    },
  });
}

/** RFC 3986 encoding, as SigV4 wants it: encodeURIComponent plus !'()*. */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
