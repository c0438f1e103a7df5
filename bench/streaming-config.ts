// The config file of the streaming bench: one RESPONSE_STREAM route on /bench,
// static keys, the streaming fake over plain HTTP on loopback, and the request
// URI in the payload (it carries stream_bytes/chunk_bytes to the fake).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUNCTION_NAME, KEY_ID, REGION, ROUTE_PATH, SECRET } from './fixtures';
import type { SidecarConfigFile } from './sidecar-config';

export function writeStreamingConfig(lambdaPort: number, logLevel: string): SidecarConfigFile {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-bench-stream-'));
  const path = join(dir, 'bench-stream.yaml');
  writeFileSync(
    path,
    `listen: 127.0.0.1:0
log_level: ${logLevel}
workers: 1
routes:
  - name: bench-stream
    match:
      path_prefix: ${ROUTE_PATH}
    function_name: ${FUNCTION_NAME}
    invoke_mode: RESPONSE_STREAM
    aws_region: ${REGION}
    aws_key: ${KEY_ID}
    aws_secret: ${SECRET}
    host: 127.0.0.1
    port: ${lambdaPort}
    disable_https: true
    timeout: 60000
    forward_request_method: true
    forward_request_uri: true
    forward_request_headers: true
    forward_request_body: true
`,
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
