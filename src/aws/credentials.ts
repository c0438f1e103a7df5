// Credential providers per route: route keys, else Kong's chain, with STS
// AssumeRole on top when asked. Routes that resolve the same way share one
// cached provider, so a burst of requests makes one fetch.
import { createHash } from 'node:crypto';
import type { AwsCredentialIdentity } from '@smithy/types';
import { LambdaExtprocError } from '../errors';
import { createKongChain } from './credential-chain';
import { describeFailure } from './credential-errors';
import { createRefreshingProvider, fixedProvider, withDeadline, type CachingProvider, type CredentialEvent } from './credential-refresh';
import { assumeRole, createStsClient, stsEndpointFor } from './credential-sts';

export type { CredentialEvent } from './credential-refresh';

export interface CredentialInput {
  readonly aws_key?: string | undefined;
  readonly aws_secret?: string | undefined;
  readonly aws_assume_role_arn?: string | undefined;
  readonly aws_role_session_name: string;
  readonly aws_sts_endpoint_url?: string | undefined;
  readonly aws_imds_protocol_version: 'v1' | 'v2';
  readonly proxy_url?: string | undefined;
  /** The route's timeout in ms: no request waits longer than this for credentials. */
  readonly timeout: number;
}

export interface CredentialSource {
  /** Stable, secret-free identity: routes with equal keys share one provider. */
  readonly key: string;
  /** Asked on every request; `fresh()` tells at once what it would hand out without a fetch. */
  readonly provider: CachingProvider;
}

export interface CredentialCache {
  sourceFor(route: CredentialInput, region: string): CredentialSource;
}

export interface CredentialCacheOptions {
  /** Where the chain reads its AWS_* settings; the SDK providers also read process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Told about every fetch, so metrics and logs can follow credential health. */
  readonly onEvent?: (event: CredentialEvent) => void;
  /** How long a failed fetch is remembered before the next try; doubles per failure. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

// A fetch never takes longer, whatever its sources' own timeouts say.
const FETCH_TIMEOUT_MS = 10_000;
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 15_000 };

export function createCredentialCache(options: CredentialCacheOptions = {}): CredentialCache {
  const env = options.env ?? process.env;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const shared = new Map<string, CachingProvider>();
  const routes = new Map<string, CredentialSource>();
  const refreshing = (name: string, fetch: Parameters<typeof createRefreshingProvider>[0]): CachingProvider =>
    createRefreshingProvider(fetch, { name, fetchTimeoutMs: FETCH_TIMEOUT_MS, backoff, onEvent: options.onEvent });
  const once = (key: string, build: () => CachingProvider): CachingProvider => {
    let provider = shared.get(key);
    if (provider === undefined) {
      provider = build();
      shared.set(key, provider);
    }
    return provider;
  };

  const baseFor = (route: CredentialInput, region: string): { key: string; provider: CachingProvider } => {
    if (route.aws_key !== undefined && route.aws_secret !== undefined) {
      const key = `static:${digest(route.aws_key, route.aws_secret)}`;
      const identity: AwsCredentialIdentity = { accessKeyId: route.aws_key, secretAccessKey: route.aws_secret };
      return { key, provider: once(key, () => fixedProvider(identity)) };
    }
    const key = `chain:${region}:${route.aws_imds_protocol_version}:${digest(route.proxy_url ?? '')}`;
    return {
      key,
      provider: once(key, () =>
        refreshing('chain', createKongChain({ env, region, imdsVersion: route.aws_imds_protocol_version, proxyUrl: route.proxy_url })),
      ),
    };
  };

  const sourceOf = (route: CredentialInput, region: string): { key: string; provider: CachingProvider } => {
    const base = baseFor(route, region);
    const roleArn = route.aws_assume_role_arn;
    if (roleArn === undefined) return base;
    const endpoint = stsEndpointFor(region, route.aws_sts_endpoint_url, env);
    const key = `assume:${digest(roleArn, route.aws_role_session_name, endpoint, region, route.proxy_url ?? '')}:${base.key}`;
    const secrets = route.aws_secret === undefined ? [] : [route.aws_secret];
    return {
      key,
      provider: once(key, () => {
        const sts = createStsClient({ region, endpoint, proxyUrl: route.proxy_url }, base.provider);
        return refreshing('assume-role', async () => {
          const identity = await base.provider();
          try {
            return { identity: await assumeRole(sts, { RoleArn: roleArn, RoleSessionName: route.aws_role_session_name }), source: 'assume-role' };
          } catch (error) {
            if (error instanceof LambdaExtprocError) throw error;
            const reason = describeFailure(error, [...secrets, identity.secretAccessKey, identity.sessionToken ?? '']);
            throw new LambdaExtprocError('credentials', `AWS credentials: STS AssumeRole ${roleArn} at ${endpoint} failed: ${reason}`, {}, { cause: error });
          }
        });
      }),
    };
  };

  return {
    sourceFor(route, region) {
      const source = sourceOf(route, region);
      // Routes differ in timeout, and the Lambda client is keyed on this key.
      const key = `${source.key}|timeout:${route.timeout}`;
      let bounded = routes.get(key);
      if (bounded === undefined) {
        const provider = source.provider;
        // Fresh credentials are handed out as they are: the deadline's timer and race are for a fetch.
        bounded = {
          key,
          provider: Object.assign(
            () => {
              const identity = provider.fresh();
              return identity === undefined ? withDeadline(provider(), route.timeout, 'the credential chain') : Promise.resolve(identity);
            },
            // The lean invoke signs at once with these, without a promise (sigv4.ts).
            { fresh: provider.fresh },
          ),
        };
        routes.set(key, bounded);
      }
      return bounded;
    },
  };
}

// Keys name settings without carrying them: no secret reaches a map key, a log or a metric.
function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}
