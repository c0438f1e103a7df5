// One ext_proc Process stream under the test's control: it writes what the
// test writes and never half-closes on its own, so a test can tell what the
// server does before the client closes its side (the Envoy stand-in always
// closes as Envoy would).
import { credentials, loadPackageDefinition, Metadata, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../../src/extproc/proto';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/messages';

export interface OpenStream {
  readonly received: ProcessingResponse[];
  /** The server's final gRPC status, whenever it comes. */
  readonly status: Promise<{ code: number; details: string }>;
  write(message: ProcessingRequest): void;
  /** Half-closes the client side, as Envoy's graceful close does. */
  end(): void;
  /** Cancels the stream if still open and closes the channel. */
  close(): void;
}

export function openProcessStream(address: string): OpenStream {
  const definition = loadSync('envoy/service/ext_proc/v3/external_processor.proto', PROTO_OPTIONS);
  const root = loadPackageDefinition(definition) as GrpcObject;
  const Ctor = ((((root.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject).v3 as GrpcObject).ExternalProcessor as ServiceClientConstructor;
  const client = new Ctor(address, credentials.createInsecure());
  const call = (client as unknown as { Process(m: Metadata): ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process(new Metadata());
  const received: ProcessingResponse[] = [];
  call.on('data', (message: ProcessingResponse) => received.push(message));
  call.on('error', () => undefined);
  let ended = false;
  const status = new Promise<{ code: number; details: string }>((resolve) =>
    call.on('status', (s: { code: number; details: string }) => {
      ended = true;
      resolve({ code: s.code, details: s.details });
    }),
  );
  return {
    received,
    status,
    write: (message) => void call.write(message),
    end: () => call.end(),
    close: () => {
      if (!ended) call.cancel();
      client.close();
    },
  };
}
