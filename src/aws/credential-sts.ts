// STS for the credential chain: AssumeRole (route's aws_assume_role_arn and
// profiles with role_arn) and AssumeRoleWithWebIdentity (EKS service accounts).
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { agentsFor } from './http-agents';
import { LambdaExtprocError } from '../errors';
import { dnsSuffixOf } from './region';

export interface StsSettings {
  readonly region: string;
  readonly endpoint: string;
  readonly proxyUrl: string | undefined;
}

export interface AssumeRoleParams {
  readonly RoleArn: string;
  readonly RoleSessionName: string;
  readonly ExternalId?: string | undefined;
  readonly DurationSeconds?: number | undefined;
}

export interface WebIdentityParams extends AssumeRoleParams {
  readonly WebIdentityToken: string;
}

// An STS call that cannot connect within this, or answer within the next, fails.
const CONNECT_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;

/** `aws_sts_endpoint_url`, else AWS_ENDPOINT_URL_STS, else the regional endpoint (as Kong). */
export function stsEndpointFor(region: string, override: string | undefined, env: NodeJS.ProcessEnv): string {
  const chosen = override ?? (env.AWS_ENDPOINT_URL_STS || undefined) ?? `https://sts.${region}.${dnsSuffixOf(region)}`;
  return chosen.replace(/\/+$/, '');
}

const noCredentials: AwsCredentialIdentityProvider = () =>
  Promise.reject(new LambdaExtprocError('credentials', 'AssumeRoleWithWebIdentity is unsigned and needs no credentials'));

export function createStsClient(settings: StsSettings, credentials: AwsCredentialIdentityProvider = noCredentials): STSClient {
  return new STSClient({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials,
    // A second attempt covers a dropped connection; the fetch deadline bounds the total.
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      ...agentsFor(settings.proxyUrl, { keepAlive: true }),
    }),
  });
}

export async function assumeRole(client: STSClient, params: AssumeRoleParams): Promise<AwsCredentialIdentity> {
  const output = await client.send(new AssumeRoleCommand(params));
  return toIdentity(output.Credentials, params.RoleArn);
}

export async function assumeRoleWithWebIdentity(client: STSClient, params: WebIdentityParams): Promise<AwsCredentialIdentity> {
  const output = await client.send(new AssumeRoleWithWebIdentityCommand(params));
  return toIdentity(output.Credentials, params.RoleArn);
}

function toIdentity(credentials: Credentials | undefined, roleArn: string): AwsCredentialIdentity {
  if (credentials?.AccessKeyId === undefined || credentials.SecretAccessKey === undefined || credentials.SessionToken === undefined) {
    throw new LambdaExtprocError('credentials', `STS answered without credentials for ${roleArn}`);
  }
  return {
    accessKeyId: credentials.AccessKeyId,
    secretAccessKey: credentials.SecretAccessKey,
    sessionToken: credentials.SessionToken,
    ...(credentials.Expiration === undefined ? {} : { expiration: credentials.Expiration }),
  };
}
