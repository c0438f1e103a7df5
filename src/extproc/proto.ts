// Loads the ext_proc and health schemas from proto/ once per process.
import { join } from 'node:path';
import { loadPackageDefinition, type GrpcObject, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProcessCodec } from './call';
import type { OutgoingResponse, ProcessingRequest } from './messages';

export const PROTO_DIR = join(__dirname, '..', '..', 'proto');

export const PROTO_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface Schemas {
  readonly extProc: ServiceDefinition;
  readonly health: ServiceDefinition;
}

let cached: Schemas | undefined;

export function loadSchemas(): Schemas {
  if (cached !== undefined) return cached;
  const definition = loadSync(['envoy/service/ext_proc/v3/external_processor.proto', 'grpc/health/v1/health.proto'], PROTO_OPTIONS);
  const root = loadPackageDefinition(definition);
  cached = {
    extProc: passEncodedResponses(serviceOf(root, ['envoy', 'service', 'ext_proc', 'v3', 'ExternalProcessor'])),
    health: serviceOf(root, ['grpc', 'health', 'v1', 'Health']),
  };
  return cached;
}

// An answer encoded ahead (encode-immediate.ts) is sent as it is; every other goes through proto-loader.
export function passEncodedResponses(service: ServiceDefinition): ServiceDefinition {
  const method = service.Process as MethodDefinition<unknown, unknown>;
  const serialize = method.responseSerialize;
  return { ...service, Process: { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)) } };
}

/** Process's request decoder and answer encoder (proto-loader's, encoded answers passed through). */
export function processCodec(): ProcessCodec {
  const method = loadSchemas().extProc.Process as MethodDefinition<ProcessingRequest, OutgoingResponse>;
  return { deserialize: method.requestDeserialize, serialize: method.responseSerialize };
}

function serviceOf(root: GrpcObject, path: string[]): ServiceDefinition {
  let node: unknown = root;
  for (const part of path) node = (node as Record<string, unknown>)[part];
  return (node as { service: ServiceDefinition }).service;
}
