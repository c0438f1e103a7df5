// Server credentials for the gRPC port: plaintext by default (Envoy in the
// same pod over loopback), TLS or mTLS when the config names the files.
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Config } from './config/schema';

export function toServerCredentials(tls: Config['tls']): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const rootCerts = tls.client_ca_file === undefined ? null : readFileSync(tls.client_ca_file);
  return ServerCredentials.createSsl(rootCerts, [{ cert_chain: readFileSync(tls.cert_file), private_key: readFileSync(tls.key_file) }], rootCerts !== null);
}
