// A loopback EC2 instance metadata service: IMDSv2 session tokens, v1 when
// allowed, the role listing and the credentials JSON with an Expiration.
import { randomUUID } from 'node:crypto';
import { sendJson, startFakeServer, type FakeServer } from './http';
import { issuedCredentials, type IssuedCredentials } from './sts';

export interface FakeImdsOptions {
  /** `v2-required`: GETs without a token get 401; `v1-only`: the token PUT is 404 (an old instance); `both`: either works. */
  mode: 'both' | 'v2-required' | 'v1-only';
  readonly role?: string;
  ttlMs?: number;
  /** Never answer anything. */
  hang?: boolean;
  /** Prefix for issued credentials (see issuedCredentials). */
  readonly prefix?: string;
}

export interface ImdsRequest {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
}

export interface FakeImds extends FakeServer {
  readonly requests: ImdsRequest[];
  readonly options: FakeImdsOptions;
  /** Credential documents served so far. */
  credentialsServed(): number;
  /** The credentials of the last document served. */
  lastIssued(): IssuedCredentials | undefined;
}

const CREDS_PATH = '/latest/meta-data/iam/security-credentials/';

export async function startFakeImds(options: FakeImdsOptions): Promise<FakeImds> {
  const requests: ImdsRequest[] = [];
  const tokens = new Set<string>();
  const role = options.role ?? 'ec2-instance-role';
  let served = 0;
  const server = await startFakeServer((request, _body, response) => {
    const path = request.url ?? '/';
    const tokenHeader = request.headers['x-aws-ec2-metadata-token'];
    const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
    requests.push({ method: request.method ?? 'GET', path, token });
    if (options.hang === true) return;
    if (path === '/latest/api/token') {
      if (request.method !== 'PUT' || options.mode === 'v1-only') return void response.writeHead(404).end();
      if (request.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) return void response.writeHead(400).end();
      const issued = `AQAEAFAKE-${randomUUID()}`;
      tokens.add(issued);
      response.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
      return void response.end(issued);
    }
    if (token !== undefined && !tokens.has(token)) return void response.writeHead(401).end();
    if (token === undefined && options.mode === 'v2-required') return void response.writeHead(401).end();
    if (path === CREDS_PATH) {
      response.writeHead(200, { 'content-type': 'text/plain' });
      return void response.end(role);
    }
    if (path === CREDS_PATH + role) {
      served += 1;
      const c = issuedCredentials(options.prefix ?? 'imds', served);
      return sendJson(response, 200, {
        Code: 'Success',
        LastUpdated: new Date().toISOString(),
        Type: 'AWS-HMAC',
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: new Date(Date.now() + (options.ttlMs ?? 6 * 3600_000)).toISOString(),
      });
    }
    response.writeHead(404).end();
  });
  return { ...server, requests, options, credentialsServed: () => served, lastIssued: () => (served === 0 ? undefined : issuedCredentials(options.prefix ?? 'imds', served)) };
}
