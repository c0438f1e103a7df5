// One cached credential fetch: shared by every caller, refreshed ahead of
// expiry, single-flight, failures cached with backoff, and old credentials kept
// in service while a refresh fails.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { LambdaExtprocError } from '../errors';

export interface Fetched {
  readonly identity: AwsCredentialIdentity;
  /** Which source answered, e.g. `imds`; safe to log and to use as a metric label. */
  readonly source: string;
}

export interface CredentialEvent {
  readonly source: string;
  readonly outcome: 'refreshed' | 'failed';
  /** Secret-free reason of a failure. */
  readonly detail?: string;
}

export interface RefreshOptions {
  /** Names the fetch in events and errors (e.g. `chain`, `assume-role`). */
  readonly name: string;
  /** A fetch that takes longer fails, so the single flight can never wedge. */
  readonly fetchTimeoutMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly onEvent?: ((event: CredentialEvent) => void) | undefined;
}

// Refresh at most this long before expiry (the SDK's own clients ask again 5 min before).
const REFRESH_AHEAD_MS = 5 * 60 * 1000;
// Credentials this close to expiry are not handed out: the signed request could land after it.
const EXPIRY_MARGIN_MS = 15 * 1000;

interface Current {
  readonly identity: AwsCredentialIdentity;
  readonly refreshAt: number;
  readonly usableUntil: number;
}

/** A provider that also tells, without waiting, which credentials it holds that need no fetch yet. */
export interface CachingProvider extends AwsCredentialIdentityProvider {
  /** The cached identity while it is fresh (before its refresh is due); otherwise undefined. */
  fresh(): AwsCredentialIdentity | undefined;
}

/** Fixed credentials (route keys): always fresh. */
export function fixedProvider(identity: AwsCredentialIdentity): CachingProvider {
  return Object.assign(async () => identity, { fresh: () => identity });
}

export function createRefreshingProvider(fetch: () => Promise<Fetched>, options: RefreshOptions): CachingProvider {
  let current: Current | undefined;
  let inflight: Promise<AwsCredentialIdentity> | undefined;
  let failure: { error: unknown; retryAt: number } | undefined;
  let failures = 0;

  const succeed = (fetched: Fetched): AwsCredentialIdentity => {
    inflight = undefined;
    failure = undefined;
    failures = 0;
    current = timingOf(fetched.identity, Date.now());
    options.onEvent?.({ source: fetched.source, outcome: 'refreshed' });
    return fetched.identity;
  };
  const fail = (error: unknown): never => {
    inflight = undefined;
    failures += 1;
    const delay = Math.min(options.backoff.maxMs, options.backoff.initialMs * 2 ** (failures - 1));
    failure = { error, retryAt: Date.now() + delay };
    options.onEvent?.({ source: options.name, outcome: 'failed', detail: error instanceof Error ? error.message : String(error) });
    throw error;
  };
  const start = (): Promise<AwsCredentialIdentity> => {
    inflight ??= Promise.resolve()
      .then(() => withDeadline(fetch(), options.fetchTimeoutMs, options.name))
      .then(succeed, fail);
    return inflight;
  };

  const provider = async (): Promise<AwsCredentialIdentity> => {
    const now = Date.now();
    if (current !== undefined && now < current.refreshAt) return current.identity;
    const usable = current !== undefined && now < current.usableUntil ? current.identity : undefined;
    if (failure !== undefined && now < failure.retryAt) {
      if (usable !== undefined) return usable;
      throw failure.error;
    }
    const pending = start();
    if (usable === undefined) return pending;
    // Refresh in the background; this request signs with the still-valid credentials.
    pending.catch(() => undefined);
    return usable;
  };
  return Object.assign(provider, { fresh: () => (current !== undefined && Date.now() < current.refreshAt ? current.identity : undefined) });
}

function timingOf(identity: AwsCredentialIdentity, now: number): Current {
  if (identity.expiration === undefined) return { identity, refreshAt: Infinity, usableUntil: Infinity };
  const expiresAt = identity.expiration.getTime();
  const lifetime = Math.max(0, expiresAt - now);
  return {
    identity,
    refreshAt: expiresAt - Math.min(REFRESH_AHEAD_MS, lifetime / 2),
    usableUntil: expiresAt - Math.min(EXPIRY_MARGIN_MS, lifetime / 4),
  };
}

/** Rejects with a `credentials` error when `promise` takes longer than `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LambdaExtprocError('credentials', `AWS credentials: ${what} gave no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
