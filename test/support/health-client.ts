// A grpc.health.v1 client for tests: Check once, or Watch and record.
import { credentials, loadPackageDefinition, type ChannelCredentials, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_OPTIONS } from '../../src/extproc/proto';

const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type HealthStatusName = (typeof STATUS_NAMES)[number];

interface HealthClient {
  Check(request: { service: string }, callback: (error: Error | null, response?: { status?: number }) => void): void;
  Watch(request: { service: string }): NodeJS.EventEmitter & { cancel(): void };
  close(): void;
}

function connect(address: string, channel: ChannelCredentials = credentials.createInsecure()): HealthClient {
  const root = loadPackageDefinition(loadSync('grpc/health/v1/health.proto', PROTO_OPTIONS)) as GrpcObject;
  const Ctor = (((root.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject).Health as ServiceClientConstructor;
  return new Ctor(address, channel, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as HealthClient;
}

export function checkHealth(address: string, service = '', channel?: ChannelCredentials): Promise<HealthStatusName | 'ERROR'> {
  const client = connect(address, channel);
  return new Promise((resolve) => {
    client.Check({ service }, (error, response) => {
      client.close();
      resolve(error === null ? STATUS_NAMES[response?.status ?? 0] ?? 'UNKNOWN' : 'ERROR');
    });
  });
}

/** Opens a Watch stream; `seen` fills with every status it reports. */
export function watchHealth(address: string, service = ''): { seen: HealthStatusName[]; stop(): void } {
  const client = connect(address);
  const seen: HealthStatusName[] = [];
  const call = client.Watch({ service });
  call.on('data', (response: { status?: number }) => seen.push(STATUS_NAMES[response.status ?? 0] ?? 'UNKNOWN'));
  call.on('error', () => undefined);
  return {
    seen,
    stop() {
      call.cancel();
      client.close();
    },
  };
}
