// The config files the bench starts lambda-extproc with: one route on /bench,
// static keys, the fake Lambda over plain HTTP on loopback, and Kong's
// forward_request_* payload so the body really travels to Lambda (for the
// streaming bench, the request URI carries stream_bytes/chunk_bytes to the fake).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUNCTION_NAME, KEY_ID, REGION, ROUTE_PATH, SECRET } from './fixtures';

export interface SidecarConfigFile {
  readonly path: string;
  remove(): void;
}

/** The buffered bench's sidecar: Envoy's message timeout of 200 ms, a 10 s route timeout. */
export function writeSidecarConfig(lambdaPort: number, logLevel: string, workers = 1): SidecarConfigFile {
  return writeConfigFile(
    'lambda-extproc-bench-',
    'bench.yaml',
    `listen: 127.0.0.1:0
log_level: ${logLevel}
workers: ${workers}
envoy_message_timeout: 200
routes:
${benchRoute('bench', '', lambdaPort, 10000)}`,
  );
}

/** The streaming bench's sidecar: one RESPONSE_STREAM route with a 60 s timeout. */
export function writeStreamingConfig(lambdaPort: number, logLevel: string): SidecarConfigFile {
  return writeConfigFile(
    'lambda-extproc-bench-stream-',
    'bench-stream.yaml',
    `listen: 127.0.0.1:0
log_level: ${logLevel}
workers: 1
routes:
${benchRoute('bench-stream', '    invoke_mode: RESPONSE_STREAM\n', lambdaPort, 60000)}`,
  );
}

function benchRoute(name: string, invokeMode: string, lambdaPort: number, timeout: number): string {
  return `  - name: ${name}
    match:
      path_prefix: ${ROUTE_PATH}
    function_name: ${FUNCTION_NAME}
${invokeMode}    aws_region: ${REGION}
    aws_key: ${KEY_ID}
    aws_secret: ${SECRET}
    host: 127.0.0.1
    port: ${lambdaPort}
    disable_https: true
    timeout: ${timeout}
    forward_request_method: true
    forward_request_uri: true
    forward_request_headers: true
    forward_request_body: true
`;
}

function writeConfigFile(dirPrefix: string, fileName: string, yaml: string): SidecarConfigFile {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const path = join(dir, fileName);
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
