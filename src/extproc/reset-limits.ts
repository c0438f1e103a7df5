// Envoy resets the ext_proc stream after every immediate response, so each
// answered request costs one RST_STREAM. nghttp2's rapid-reset protection
// (CVE-2023-44487) allows 1000 per connection, refilled at 33 per second, then
// sends GOAWAY(INTERNAL_ERROR). Node 22.10+ lets a server raise that limit;
// grpc-js (1.14) does not pass the option through, so it is set on the
// options grpc-js hands to http2.createServer.
import type { Server } from '@grpc/grpc-js';
import { http2OptionsOf } from '../grpc-internals';

export interface ResetLimits {
  /** streamResetBurst: resets allowed at once. */
  readonly burst: number;
  /** streamResetRate: resets added back per second. */
  readonly rate: number;
}

/**
 * Far above any per-connection request rate: the only client is Envoy,
 * which resets once per request, on a pod-local listener.
 */
export const RAISED_RESET_LIMITS: ResetLimits = { burst: 100_000, rate: 100_000 };

/** Node 22.10 and 23.0 added the streamResetBurst/streamResetRate http2 server options. */
export function supportsResetLimits(nodeVersion: string): boolean {
  const [major = 0, minor = 0] = nodeVersion.replace(/^v/, '').split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 10);
}

/**
 * Must run before bindAsync (grpc-js creates its http2 server at bind time).
 * Returns false when grpc-js no longer has the field, so the caller can say so.
 */
export function raiseResetLimits(server: Server, limits: ResetLimits): boolean {
  // The grpc-js internal used here; test/unit/extproc-reset-limits.test.ts holds it against the installed grpc-js.
  const options = http2OptionsOf(server);
  if (options === undefined) return false;
  options.streamResetBurst = limits.burst;
  options.streamResetRate = limits.rate;
  return true;
}

/** Config `raise_reset_limits`: `auto` raises only on a loopback listener. */
export type RaiseResetLimitsMode = 'auto' | 'always' | 'never';

/** The Envoy runtime flag that makes Envoy half-close instead of reset, so no limit is hit. */
export const GRACEFUL_CLOSE_FLAG = 'envoy.reloadable_features.ext_proc_graceful_grpc_close';

/**
 * Whether `host:port` listens on loopback only (127.0.0.0/8, ::1, localhost).
 * Only there is Envoy in the pod the sole client; any other address (0.0.0.0,
 * ::, a pod IP, a name) may be reached by clients whose resets must stay limited.
 */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface ResetLimitsPlanInput {
  readonly mode: RaiseResetLimitsMode;
  readonly listen: string;
  readonly nodeVersion: string;
  /** Whether grpc-js still has the options field raiseResetLimits writes. */
  readonly grpcInternals: boolean;
}

export interface ResetLimitsPlan {
  /** Raise the limit on this listener. */
  readonly raise: boolean;
  /** The one start-up line saying which applies. */
  readonly level: 'info' | 'warn';
  readonly message: string;
}

/** Decides, from config, address and runtime, whether to raise and what to log at start. */
export function planResetLimits(input: ResetLimitsPlanInput): ResetLimitsPlan {
  const loopback = isLoopbackListen(input.listen);
  const wanted = input.mode === 'always' || (input.mode === 'auto' && loopback);
  if (!wanted) {
    const why = input.mode === 'never' ? 'raise_reset_limits: never' : 'the listener is not loopback (raise_reset_limits: auto)';
    return {
      raise: false,
      level: 'info',
      message: `nghttp2 rapid-reset protection kept at its default (${why}): Envoy resets the stream after each answer, so set its runtime flag ${GRACEFUL_CLOSE_FLAG}: true, or raise_reset_limits: always if only Envoy can reach this listener`,
    };
  }
  const why = input.mode === 'always' ? 'raise_reset_limits: always' : 'loopback listener (raise_reset_limits: auto)';
  if (!supportsResetLimits(input.nodeVersion) || !input.grpcInternals) {
    const cannot = supportsResetLimits(input.nodeVersion) ? 'this grpc-js does not expose its http2 server options' : `Node ${input.nodeVersion} has no streamResetBurst/streamResetRate (Node 22.10 or later has)`;
    return {
      raise: false,
      level: 'warn',
      message: `cannot raise nghttp2's RST_STREAM limit (${why}): ${cannot}; Envoy resets the stream after each answer and gets GOAWAY after about 1000 requests per connection unless its runtime flag ${GRACEFUL_CLOSE_FLAG} is true`,
    };
  }
  return { raise: true, level: 'info', message: `nghttp2 RST_STREAM limit raised for Envoy's reset after each answer (${why})` };
}

/** Whether grpc-js still has the field raiseResetLimits writes, without writing it. */
export function hasResetLimitInternals(server: Server): boolean {
  return http2OptionsOf(server) !== undefined;
}
