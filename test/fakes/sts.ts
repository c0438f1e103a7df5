// A loopback STS: AssumeRole verifies the SigV4 signature of its caller,
// AssumeRoleWithWebIdentity checks the token; answers are AWS's XML.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { startFakeServer, type FakeServer } from './http';
import { verifySigV4 } from './sigv4';

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** Deterministic temporary credentials: fakes issue them, the fake Lambda is told their secrets up front. */
export function issuedCredentials(prefix: string, n: number): IssuedCredentials {
  const tag = prefix.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 8).padEnd(8, 'X');
  return {
    accessKeyId: `ASIA${tag}${String(n).padStart(8, '0')}`,
    secretAccessKey: `SECRET-${prefix}-${n}-wJalrXUtnFEMIK7MDENGbPxRfiCY`,
    sessionToken: `SESSIONTOKEN-${prefix}-${n}-FwoGZXIvYXdzEJr`,
  };
}

/** id → secret for the first `count` credentials a fake will issue. */
export function secretsOfIssued(prefix: string, count = 20): Record<string, string> {
  const entries: Array<[string, string]> = [];
  for (let n = 1; n <= count; n++) {
    const c = issuedCredentials(prefix, n);
    entries.push([c.accessKeyId, c.secretAccessKey]);
  }
  return Object.fromEntries(entries);
}

export interface StsCall {
  readonly action: string;
  readonly roleArn: string;
  readonly roleSessionName: string;
  /** Signer of an AssumeRole call. */
  readonly accessKeyId?: string;
  readonly sessionToken?: string | undefined;
  readonly region?: string;
  readonly webIdentityToken?: string;
}

export interface FakeStsOptions {
  /** Signing keys AssumeRole accepts: id → secret. */
  readonly secrets: Record<string, string>;
  /** Role ARNs that may be assumed; any other gets AccessDenied. */
  readonly roles: readonly string[];
  /** The web identity token AssumeRoleWithWebIdentity accepts. */
  readonly webIdentityToken?: string;
  /** Lifetime of issued credentials. */
  ttlMs?: number;
  /** Never answer (a hanging STS). */
  hang?: boolean;
}

export interface FakeSts extends FakeServer {
  readonly calls: StsCall[];
  readonly options: FakeStsOptions;
  /** The credentials of the last successful answer. */
  lastIssued(): IssuedCredentials | undefined;
}

export async function startFakeSts(options: FakeStsOptions): Promise<FakeSts> {
  const calls: StsCall[] = [];
  let issued = 0;
  let last: IssuedCredentials | undefined;
  const server = await startFakeServer((request, body, response) => {
    if (options.hang === true) return;
    const form = new URLSearchParams(body.toString('utf8'));
    const action = form.get('Action') ?? '';
    const roleArn = form.get('RoleArn') ?? '';
    const roleSessionName = form.get('RoleSessionName') ?? '';
    if (action === 'AssumeRole') {
      const v = verifySigV4({ method: request.method ?? 'POST', url: request.url ?? '/', headers: request.headers, body }, (id) => options.secrets[id]);
      if (!v.ok) return sendError(response, 403, v.code === 'UnrecognizedClientException' ? 'InvalidClientTokenId' : 'SignatureDoesNotMatch', v.message);
      if (v.service !== 'sts') return sendError(response, 403, 'SignatureDoesNotMatch', `credential scope names service ${v.service}`);
      calls.push({ action, roleArn, roleSessionName, accessKeyId: v.accessKeyId, sessionToken: v.sessionToken, region: v.region });
    } else if (action === 'AssumeRoleWithWebIdentity') {
      const token = form.get('WebIdentityToken') ?? '';
      calls.push({ action, roleArn, roleSessionName, webIdentityToken: token });
      if (request.headers.authorization !== undefined) return sendError(response, 400, 'InvalidParameterValue', 'AssumeRoleWithWebIdentity must not be signed');
      if (token !== options.webIdentityToken) return sendError(response, 400, 'InvalidIdentityToken', 'Incorrect token audience');
    } else {
      return sendError(response, 400, 'InvalidAction', `Could not find operation ${action}`);
    }
    if (!options.roles.includes(roleArn)) {
      return sendError(response, 403, 'AccessDenied', `User is not authorized to perform: sts:${action} on resource: ${roleArn}`);
    }
    issued += 1;
    const c = issuedCredentials(action === 'AssumeRole' ? 'sts' : 'webid', issued);
    last = c;
    const expiration = new Date(Date.now() + (options.ttlMs ?? 3600_000)).toISOString();
    const xml = `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <${action}Result>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:${roleSessionName}</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/${roleArn.split('/').pop() ?? 'role'}/${roleSessionName}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${c.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${c.secretAccessKey}</SecretAccessKey>
      <SessionToken>${c.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </${action}Result>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>
</${action}Response>`;
    response.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    response.end(xml);
  });
  return { ...server, calls, options, lastIssued: () => last };
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  const xml = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>${randomUUID()}</RequestId>
</ErrorResponse>`;
  response.writeHead(status, { 'content-type': 'text/xml' });
  response.end(xml);
}
