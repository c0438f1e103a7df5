// The gRPC server: ext_proc and grpc.health.v1 on one port.
import { Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import { handleProcessStream, type StreamOptions } from './extproc/stream';
import type { OutgoingResponse, ProcessingRequest } from './extproc/messages';
import { loadSchemas } from './extproc/proto';
import { RAISED_RESET_LIMITS, raiseResetLimits, supportsResetLimits } from './extproc/reset-limits';
import type { HealthState, ServingStatus } from './observability/health';

export interface ServerOptions {
  readonly listen: string;
  readonly maxMessageBytes: number;
  readonly stream: StreamOptions;
  readonly health: HealthState;
  readonly credentials?: ServerCredentials;
}

export interface RunningServer {
  readonly port: number;
  readonly server: Server;
  /** Whether nghttp2's RST_STREAM limit was raised (Node 22.10+); else Envoy needs ext_proc_graceful_grpc_close. */
  readonly resetLimitsRaised: boolean;
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
  });
  // Envoy resets the stream after each answer: lift nghttp2's reset limit where Node allows it.
  const resetLimitsRaised = supportsResetLimits(process.version) && raiseResetLimits(server, RAISED_RESET_LIMITS);
  server.addService(schemas.extProc, {
    Process: (call: ServerDuplexStream<ProcessingRequest, OutgoingResponse>) => {
      if (options.health.status() !== 'SERVING') {
        call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'lambda-extproc is shutting down' });
        return;
      }
      handleProcessStream(call, options.stream);
    },
  });
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
  options.health.set('SERVING');
  return {
    port,
    server,
    resetLimitsRaised,
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
