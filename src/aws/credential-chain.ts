// The credential chain in Kong's order: environment, profile, container,
// web identity, EC2 instance metadata. A source that is not configured passes
// to the next; a configured source that fails is an error naming it.
import { fromEnv, fromHttp, fromIni, fromInstanceMetadata, fromTokenFile } from '@aws-sdk/credential-providers';
import { parseKnownFiles } from '@smithy/core/config';
import type { AwsCredentialIdentity, Logger as SdkLogger } from '@smithy/types';
import { LambdaExtprocError } from '../errors';
import { describeFailure, secretsOf } from './credential-errors';
import type { Fetched } from './credential-refresh';
import { assumeRole, assumeRoleWithWebIdentity, createStsClient, stsEndpointFor, type StsSettings } from './credential-sts';

export interface ChainSettings {
  readonly env: NodeJS.ProcessEnv;
  /** The route's region: web identity and profile roles call this region's STS. */
  readonly region: string;
  /** `v1`: IMDSv2 with fallback to v1 (Kong's behaviour); `v2`: IMDSv2 only. */
  readonly imdsVersion: 'v1' | 'v2';
  readonly proxyUrl: string | undefined;
}

type Probe =
  | { readonly configured: false; readonly reason: string }
  | { readonly configured: true; readonly label: string; readonly fetch: () => Promise<AwsCredentialIdentity> };

interface Link {
  readonly name: string;
  probe(): Promise<Probe>;
}

// Per HTTP call to IMDS or the container endpoint (the SDK's default); Kong waits 5 s.
const METADATA_TIMEOUT_MS = 1000;
// The SDK providers would otherwise warn on the console.
const silent: SdkLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function createKongChain(settings: ChainSettings): () => Promise<Fetched> {
  const { env } = settings;
  const stsSettings: StsSettings = { region: settings.region, endpoint: stsEndpointFor(settings.region, undefined, env), proxyUrl: settings.proxyUrl };
  const webIdentitySts = createStsClient(stsSettings);
  // Built once: its v1-fallback memory lives across fetches.
  const imds = fromInstanceMetadata({ timeout: METADATA_TIMEOUT_MS, maxRetries: 0, ec2MetadataV1Disabled: settings.imdsVersion === 'v2', logger: silent });
  const links: Link[] = [
    { name: 'env', probe: async () => probeEnv(env) },
    { name: 'profile', probe: () => probeProfile(env, stsSettings) },
    { name: 'container', probe: async () => probeContainer(env) },
    {
      name: 'web-identity',
      probe: async () => {
        const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE;
        const roleArn = env.AWS_ROLE_ARN;
        if (!tokenFile || !roleArn) return { configured: false, reason: 'web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set)' };
        return {
          configured: true,
          label: `web identity (role ${roleArn}, token file ${tokenFile}, STS ${stsSettings.endpoint})`,
          fetch: () =>
            fromTokenFile({
              webIdentityTokenFile: tokenFile,
              roleArn,
              ...(env.AWS_ROLE_SESSION_NAME ? { roleSessionName: env.AWS_ROLE_SESSION_NAME } : {}),
              roleAssumerWithWebIdentity: (params) =>
                assumeRoleWithWebIdentity(webIdentitySts, {
                  RoleArn: params.RoleArn,
                  RoleSessionName: params.RoleSessionName ?? `lambda-extproc-${Date.now()}`,
                  WebIdentityToken: params.WebIdentityToken,
                }),
            })(),
        };
      },
    },
    {
      name: 'imds',
      probe: async () => {
        const disabled = env.AWS_EC2_METADATA_DISABLED;
        if (disabled !== undefined && disabled !== '' && disabled.toLowerCase() !== 'false') {
          return { configured: false, reason: 'EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)' };
        }
        const endpoint = env.AWS_EC2_METADATA_SERVICE_ENDPOINT || 'http://169.254.169.254';
        const mode = settings.imdsVersion === 'v2' ? 'IMDSv2 only' : 'IMDSv2 with fallback to v1';
        return { configured: true, label: `EC2 instance metadata (${mode}, ${endpoint})`, fetch: () => imds() };
      },
    },
  ];

  return async () => {
    const tried: string[] = [];
    for (const link of links) {
      const probe = await link.probe();
      if (!probe.configured) {
        tried.push(probe.reason);
        continue;
      }
      try {
        return { identity: await probe.fetch(), source: link.name };
      } catch (error) {
        const before = tried.length === 0 ? '' : `; skipped before it: ${tried.join(', ')}`;
        throw new LambdaExtprocError('credentials', `AWS credentials: ${probe.label} failed: ${describeFailure(error, secretsOf(env))}${before}`, {}, { cause: error });
      }
    }
    throw new LambdaExtprocError('credentials', `no AWS credentials found; tried ${tried.join(', ')}`);
  };
}

function probeEnv(env: NodeJS.ProcessEnv): Probe {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) return { configured: true, label: 'environment (AWS_ACCESS_KEY_ID)', fetch: () => fromEnv()() };
  if (id || secret) {
    return {
      configured: true,
      label: 'environment',
      fetch: () => Promise.reject(new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set')),
    };
  }
  // Kong also reads the older AMAZON_* names.
  const amazonId = env.AMAZON_ACCESS_KEY_ID;
  const amazonSecret = env.AMAZON_SECRET_ACCESS_KEY;
  if (amazonId && amazonSecret) {
    const identity: AwsCredentialIdentity = {
      accessKeyId: amazonId,
      secretAccessKey: amazonSecret,
      ...(env.AMAZON_SESSION_TOKEN ? { sessionToken: env.AMAZON_SESSION_TOKEN } : {}),
    };
    return { configured: true, label: 'environment (AMAZON_ACCESS_KEY_ID)', fetch: async () => identity };
  }
  return { configured: false, reason: 'environment (AWS_ACCESS_KEY_ID not set)' };
}

// Keys that make a profile a credential source; a profile holding only `region` is not one.
const CREDENTIAL_KEYS = [
  'aws_access_key_id',
  'aws_secret_access_key',
  'role_arn',
  'source_profile',
  'credential_source',
  'web_identity_token_file',
  'credential_process',
  'sso_session',
  'sso_start_url',
];

async function probeProfile(env: NodeJS.ProcessEnv, sts: StsSettings): Promise<Probe> {
  const profile = env.AWS_PROFILE || 'default';
  const files = {
    ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
    ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
  };
  const where = `${files.filepath ?? '~/.aws/credentials'}, ${files.configFilepath ?? '~/.aws/config'}`;
  // Re-read on each fetch so a rotated credentials file is picked up.
  const profiles = await parseKnownFiles({ ...files, ignoreCache: true });
  const data = profiles[profile];
  if (data === undefined || !CREDENTIAL_KEYS.some((key) => data[key] !== undefined)) {
    return { configured: false, reason: `profile ${profile} (no credentials in ${where})` };
  }
  return {
    configured: true,
    label: `profile ${profile} (${where})`,
    fetch: () =>
      fromIni({
        profile,
        ...files,
        ignoreCache: true,
        // Source credentials differ per call, so the STS client is per fetch, not per request.
        roleAssumer: (source, params) => {
          const client = createStsClient(sts, async () => source);
          return assumeRole(client, {
            RoleArn: params.RoleArn,
            RoleSessionName: params.RoleSessionName ?? `lambda-extproc-${Date.now()}`,
            ExternalId: params.ExternalId,
            DurationSeconds: params.DurationSeconds,
          }).finally(() => client.destroy());
        },
      })(),
  };
}

function probeContainer(env: NodeJS.ProcessEnv): Probe {
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (!relative && !full) return { configured: false, reason: 'container (AWS_CONTAINER_CREDENTIALS_FULL_URI and _RELATIVE_URI not set)' };
  const target = relative ? `http://169.254.170.2${relative}` : (full ?? '');
  const token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  const tokenFile = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
  const auth = tokenFile ? `, token file ${tokenFile}` : token ? ', authorization token' : '';
  return {
    configured: true,
    label: `container (${target}${auth})`,
    // fromHttp reads its settings when built and closes its sockets after one call: one per fetch.
    fetch: () =>
      fromHttp({
        ...(relative ? { awsContainerCredentialsRelativeUri: relative } : { awsContainerCredentialsFullUri: full }),
        ...(tokenFile ? { awsContainerAuthorizationTokenFile: tokenFile } : token ? { awsContainerAuthorizationToken: token } : {}),
        timeout: METADATA_TIMEOUT_MS,
        maxRetries: 0,
        logger: silent,
      })(),
  };
}
