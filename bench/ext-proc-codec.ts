// The ext_proc schema as the sidecar loads it (same proto files, same
// proto-loader options), with the serializers the raw HTTP/2 client needs.
import { join } from 'node:path';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../src/extproc/proto';
import type { ProcessingRequest, ProcessingResponse } from '../src/extproc/messages';

/** proto/ of the repository, seen from dist-bench/bench/. */
export const BENCH_PROTO_DIR = join(__dirname, '..', '..', 'proto');
export const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';

export function loadExtProcDefinition(): PackageDefinition {
  return loadSync(['envoy/service/ext_proc/v3/external_processor.proto', 'grpc/health/v1/health.proto'], { ...PROTO_OPTIONS, includeDirs: [BENCH_PROTO_DIR] });
}

export interface ExtProcCodec {
  encodeRequest(message: ProcessingRequest): Buffer;
  decodeResponse(bytes: Buffer): ProcessingResponse;
}

export function createExtProcCodec(): ExtProcCodec {
  const service = loadExtProcDefinition()['envoy.service.ext_proc.v3.ExternalProcessor'] as unknown as Record<string, MethodDefinition<ProcessingRequest, ProcessingResponse>>;
  const method = service.Process;
  if (method === undefined) throw new Error('ext_proc schema has no Process method');
  return {
    encodeRequest: (message) => method.requestSerialize(message),
    decodeResponse: (bytes) => method.responseDeserialize(bytes),
  };
}

/** A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte length, bytes. */
export function frameMessage(bytes: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + bytes.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(bytes.length, 1);
  bytes.copy(frame, 5);
  return frame;
}

/** Splits a byte stream into gRPC messages, keeping a partial one for the next chunk. */
export function createFrameReader(onMessage: (bytes: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      onMessage(pending.subarray(5, 5 + length));
      pending = pending.subarray(5 + length);
    }
  };
}
