// Envoy resets the ext_proc stream after every immediate response, so each
// answered request costs one RST_STREAM. nghttp2's rapid-reset protection
// (CVE-2023-44487) allows 1000 per connection, refilled at 33 per second, then
// sends GOAWAY(INTERNAL_ERROR). Node 22.10+ lets a server raise that limit;
// grpc-js (1.14) does not pass the option through, so it is set on the
// options grpc-js hands to http2.createServer.
import type { Server } from '@grpc/grpc-js';

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

/** The grpc-js internal read here; test/unit/extproc-reset-limits.test.ts holds it against the installed grpc-js. */
interface GrpcServerInternals {
  commonServerOptions?: Record<string, unknown>;
}

/**
 * Must run before bindAsync (grpc-js creates its http2 server at bind time).
 * Returns false when grpc-js no longer has the field, so the caller can say so.
 */
export function raiseResetLimits(server: Server, limits: ResetLimits): boolean {
  const options = (server as unknown as GrpcServerInternals).commonServerOptions;
  if (typeof options !== 'object' || options === null) return false;
  options.streamResetBurst = limits.burst;
  options.streamResetRate = limits.rate;
  return true;
}
