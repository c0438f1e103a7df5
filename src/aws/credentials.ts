// Credential providers per route, shared between routes that resolve the same
// way, so a burst of requests makes one fetch.
import { createHash } from 'node:crypto';
import { fromEnv } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { memoize } from '@smithy/core/config';
import { LambdaExtprocError } from '../errors';

export interface CredentialInput {
  readonly aws_key?: string | undefined;
  readonly aws_secret?: string | undefined;
}

export interface CredentialSource {
  /** Stable, secret-free identity: routes with equal keys share one provider. */
  readonly key: string;
  readonly provider: AwsCredentialIdentityProvider;
}

export interface CredentialCache {
  sourceFor(route: CredentialInput): CredentialSource;
}

// Refresh this long before expiry so no request signs with a dying key.
const REFRESH_AHEAD_MS = 5 * 60 * 1000;

export function createCredentialCache(): CredentialCache {
  const sources = new Map<string, CredentialSource>();
  return {
    sourceFor(route) {
      const key = keyOf(route);
      let source = sources.get(key);
      if (source === undefined) {
        source = { key, provider: buildProvider(route) };
        sources.set(key, source);
      }
      return source;
    },
  };
}

function keyOf(route: CredentialInput): string {
  if (route.aws_key !== undefined && route.aws_secret !== undefined) {
    return `static:${route.aws_key}:${createHash('sha256').update(route.aws_secret).digest('hex').slice(0, 16)}`;
  }
  return 'chain';
}

function buildProvider(route: CredentialInput): AwsCredentialIdentityProvider {
  if (route.aws_key !== undefined && route.aws_secret !== undefined) {
    const identity: AwsCredentialIdentity = { accessKeyId: route.aws_key, secretAccessKey: route.aws_secret };
    return async () => identity;
  }
  const env = fromEnv();
  return memoize(
    async () => {
      try {
        return await env();
      } catch (error) {
        throw new LambdaExtprocError('credentials', `no AWS credentials: environment: ${(error as Error).message}`, {}, { cause: error });
      }
    },
    (c) => c.expiration !== undefined && c.expiration.getTime() - Date.now() < REFRESH_AHEAD_MS,
    (c) => c.expiration !== undefined,
  );
}
