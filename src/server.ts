// The gRPC server: ext_proc and grpc.health.v1 on one port.
import { Server, ServerCredentials, status as GrpcStatus, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import { takeProcessCalls, type Open } from './extproc/call';
import { handleProcessStream, type StreamOptions } from './extproc/stream';
import { loadSchemas, processCodec } from './extproc/proto';
import { hasResetLimitInternals, planResetLimits, RAISED_RESET_LIMITS, raiseResetLimits, type RaiseResetLimitsMode, type ResetLimitsPlan } from './extproc/reset-limits';
import { limitPreface, limitTlsHandshake } from './connection-guard';
import type { HealthState, ServingStatus } from './observability/health';

export interface ServerOptions {
  readonly listen: string;
  readonly maxMessageBytes: number;
  readonly stream: StreamOptions;
  readonly health: HealthState;
  readonly credentials?: ServerCredentials;
  /** ms a new connection has to finish its TLS and HTTP/2 handshake. */
  readonly handshakeTimeout: number;
  /** ms without a stream before a connection gets GOAWAY. */
  readonly connectionIdleTimeout: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to the client. */
  readonly maxConcurrentStreams: number;
  readonly raiseResetLimits: RaiseResetLimitsMode;
  /** A connection was destroyed for not finishing its handshake in time. */
  readonly onHandshakeTimeout?: () => void;
}

export interface RunningServer {
  readonly port: number;
  readonly server: Server;
  /** Whether nghttp2's RST_STREAM limit was raised, and the one start-up line that says so (or warns). */
  readonly resetLimits: ResetLimitsPlan;
  /** False when grpc-js no longer exposes its http2 servers: handshakes are then not timed out. */
  readonly handshakeGuarded: boolean;
  /** Refuses new streams, waits for in-flight ones up to `timeoutMs`, then cuts the rest. */
  drain(timeoutMs: number): Promise<'drained' | 'forced'>;
}

// Service names the health service answers for: '' means the whole server.
const HEALTH_SERVICES = new Set(['', 'envoy.service.ext_proc.v3.ExternalProcessor']);
const HEALTH_CODES: Record<ServingStatus, number> = { SERVING: 1, NOT_SERVING: 2 };

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const schemas = loadSchemas();
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // Channelz bookkeeping costs every call and nothing reads it: no channelz service is exposed.
    'grpc.enable_channelz': 0,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    // Streams in flight keep a connection busy however long Lambda takes; only stream-less time counts.
    'grpc.max_connection_idle_ms': options.connectionIdleTimeout,
  });
  // Envoy resets the stream after each answer: lift nghttp2's reset limit where that is safe (reset-limits.ts).
  const resetLimits = planResetLimits({ mode: options.raiseResetLimits, listen: options.listen, nodeVersion: process.version, grpcInternals: hasResetLimitInternals(server) });
  if (resetLimits.raise) raiseResetLimits(server, RAISED_RESET_LIMITS);
  if (options.credentials?._isSecure() === true) limitTlsHandshake(server, options.handshakeTimeout);
  // Open Watch streams, ended once they have seen NOT_SERVING so a drain is not held up by them.
  const watchers = new Set<ServerWritableStream<{ service?: string }, unknown>>();
  server.addService(schemas.health, {
    Check: (call: ServerUnaryCall<{ service?: string }, unknown>, callback: sendUnaryData<unknown>) => {
      const service = call.request.service ?? '';
      if (!HEALTH_SERVICES.has(service)) return callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service ${service}` });
      callback(null, { status: HEALTH_CODES[options.health.status()] });
    },
    Watch: (call: ServerWritableStream<{ service?: string }, unknown>) => {
      const service = call.request.service ?? '';
      if (!HEALTH_SERVICES.has(service)) {
        call.write({ status: 3 });
        return;
      }
      call.write({ status: HEALTH_CODES[options.health.status()] });
      const stop = options.health.watch((status) => call.write({ status: HEALTH_CODES[status] }));
      watchers.add(call);
      const forget = () => {
        stop();
        watchers.delete(call);
      };
      call.on('cancelled', forget);
      call.on('close', forget);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, options.credentials ?? ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  // Process streams are served on their HTTP/2 streams (extproc/call.ts); grpc-js serves health.
  const open: Open = (call) => {
    if (options.health.status() === 'SERVING') return handleProcessStream(call, options.stream);
    call.fail(GrpcStatus.UNAVAILABLE, 'lambda-extproc is shutting down');
    return undefined;
  };
  try {
    takeProcessCalls(server, open, { maxMessageBytes: options.maxMessageBytes, codec: processCodec() });
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  const handshakeGuarded = limitPreface(server, options.handshakeTimeout, options.onHandshakeTimeout ?? (() => undefined));
  options.health.set('SERVING');
  return {
    port,
    server,
    resetLimits,
    handshakeGuarded,
    drain(timeoutMs) {
      options.health.set('NOT_SERVING');
      for (const call of watchers) call.end();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve('forced');
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve('drained');
        });
      });
    },
  };
}
