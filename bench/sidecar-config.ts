// The config file the bench starts lambda-extproc with: one route on /bench,
// static keys, the fake Lambda over plain HTTP on loopback, and Kong's
// forward_request_* payload so the body really travels to Lambda.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUNCTION_NAME, KEY_ID, REGION, ROUTE_PATH, SECRET } from './fixtures';

export interface SidecarConfigFile {
  readonly path: string;
  remove(): void;
}

export function writeSidecarConfig(lambdaPort: number, logLevel: string, workers = 1): SidecarConfigFile {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-bench-'));
  const path = join(dir, 'bench.yaml');
  writeFileSync(
    path,
    `listen: 127.0.0.1:0
log_level: ${logLevel}
workers: ${workers}
envoy_message_timeout: 200
routes:
  - name: bench
    match:
      path_prefix: ${ROUTE_PATH}
    function_name: ${FUNCTION_NAME}
    aws_region: ${REGION}
    aws_key: ${KEY_ID}
    aws_secret: ${SECRET}
    host: 127.0.0.1
    port: ${lambdaPort}
    disable_https: true
    timeout: 10000
    forward_request_method: true
    forward_request_uri: true
    forward_request_headers: true
    forward_request_body: true
`,
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
