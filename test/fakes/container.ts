// A loopback container credentials endpoint (ECS task role, EKS Pod Identity
// agent): checks the Authorization token and answers the credentials JSON.
import { sendJson, startFakeServer, type FakeServer } from './http';
import { issuedCredentials, type IssuedCredentials } from './sts';

export interface FakeContainerOptions {
  /** Authorization header value required; undefined accepts any. */
  readonly token?: string;
  ttlMs?: number;
  hang?: boolean;
  /** Answer this status with an error document instead of credentials. */
  failStatus?: number;
  readonly prefix?: string;
}

export interface ContainerRequest {
  readonly path: string;
  readonly authorization: string | undefined;
}

export interface FakeContainer extends FakeServer {
  readonly requests: ContainerRequest[];
  readonly options: FakeContainerOptions;
  credentialsServed(): number;
  /** The credentials of the last document served. */
  lastIssued(): IssuedCredentials | undefined;
}

export async function startFakeContainer(options: FakeContainerOptions): Promise<FakeContainer> {
  const requests: ContainerRequest[] = [];
  let served = 0;
  const server = await startFakeServer((request, _body, response) => {
    const authorization = request.headers.authorization;
    requests.push({ path: request.url ?? '/', authorization });
    if (options.hang === true) return;
    if (options.token !== undefined && authorization !== options.token) {
      return sendJson(response, 401, { Code: 'AccessDeniedException', Message: 'invalid authorization token' });
    }
    if (options.failStatus !== undefined) return sendJson(response, options.failStatus, { Code: 'ServiceUnavailable', Message: 'agent not ready' });
    served += 1;
    const c = issuedCredentials(options.prefix ?? 'container', served);
    sendJson(response, 200, {
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      AccountId: '123456789012',
      Expiration: new Date(Date.now() + (options.ttlMs ?? 6 * 3600_000)).toISOString(),
    });
  });
  return { ...server, requests, options, credentialsServed: () => served, lastIssued: () => (served === 0 ? undefined : issuedCredentials(options.prefix ?? 'container', served)) };
}
