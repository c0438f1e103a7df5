// The grpc-js Server internals lambda-extproc reads (@grpc/grpc-js 1.14, pinned
// in the lock): one description for every user. Each user's unit test holds
// the fields it needs against the installed grpc-js
// (extproc-reset-limits, connection-guard, extproc-call).
import type { Server } from '@grpc/grpc-js';
import type { Http2Server, ServerHttp2Stream } from 'node:http2';

interface GrpcServerInternals {
  /** The options grpc-js gives http2.createServer / createSecureServer at bind time. */
  commonServerOptions?: Record<string, unknown>;
  /** Its http2 servers, made by bindAsync. */
  http2Servers?: Map<Http2Server, unknown>;
  /** Counts a stream against max_connection_idle_ms. */
  onStreamOpened?: (stream: ServerHttp2Stream) => void;
}

/** The options object grpc-js will create its http2 servers with; undefined when grpc-js no longer has it. */
export function http2OptionsOf(server: Server): Record<string, unknown> | undefined {
  const options = (server as unknown as GrpcServerInternals).commonServerOptions;
  return typeof options === 'object' && options !== null ? options : undefined;
}

/** The http2 servers grpc-js made at bind time (none before bindAsync); undefined when grpc-js no longer keeps them. */
export function http2ServersOf(server: Server): Map<Http2Server, unknown> | undefined {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  return servers instanceof Map ? servers : undefined;
}

/** grpc-js's idle accounting for a stream it did not dispatch itself; undefined when grpc-js no longer has it. */
export function streamOpenedOf(server: Server): ((stream: ServerHttp2Stream) => void) | undefined {
  const opened = (server as unknown as GrpcServerInternals).onStreamOpened;
  return typeof opened === 'function' ? (stream) => opened.call(server, stream) : undefined;
}
