// Starts the real server in-process on a free port, wired to a fake Lambda,
// with an Envoy stand-in client and captured log lines.
import { Writable } from 'node:stream';
import { parseConfig, formatProblems } from '../../src/config/load';
import { startApp, type RunningApp } from '../../src/app';
import { createLogger } from '../../src/observability/logger';
import { createEnvoyClient, type EnvoyClient, type EnvoyRequest, type EnvoyResult } from '../envoy-client';
import { startFakeLambda, type FakeLambda, type FakeLambdaOptions } from '../fakes/lambda';

export const KEY_ID = 'AKIDEXAMPLEFAKE00001';
export const SECRET = 'fake/Secret+Key0000000000000000000000001';

export interface Harness {
  readonly lambda: FakeLambda;
  readonly app: RunningApp;
  readonly envoy: EnvoyClient;
  readonly logs: Array<Record<string, unknown>>;
  readonly rawLogs: () => string;
  send(request: EnvoyRequest): Promise<EnvoyResult>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** YAML for the config; `{{lambda}}` is replaced by the fake's port, `{{key}}`/`{{secret}}` by the test keys. */
  readonly config: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly lambda?: Partial<FakeLambdaOptions>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const lambda = await startFakeLambda({ secrets: { [KEY_ID]: SECRET, ...(options.lambda?.secrets ?? {}) }, functions: options.lambda?.functions ?? { '*': () => ({}) } });
  const text = options.config.replaceAll('{{lambda}}', String(lambda.port)).replaceAll('{{key}}', KEY_ID).replaceAll('{{secret}}', SECRET);
  const loaded = parseConfig(text, options.env ?? {});
  if (!loaded.ok) throw new Error(`test config invalid:\n${formatProblems(loaded.problems)}`);
  const captured: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      captured.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger('debug', sink);
  const app = await startApp({ ...loaded.config, listen: '127.0.0.1:0' }, { env: options.env ?? {}, logger });
  const envoy = createEnvoyClient(`127.0.0.1:${app.port}`);
  const logs: Array<Record<string, unknown>> = [];
  return {
    lambda,
    app,
    envoy,
    get logs() {
      logs.length = 0;
      for (const line of captured.join('').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      return logs;
    },
    rawLogs: () => captured.join(''),
    send: (request) => envoy.send(request),
    async close() {
      envoy.close();
      await app.stop(1000);
      await lambda.close();
    },
  };
}

/** A route block pointing at the fake Lambda with static test keys. */
export function fakeRoute(name: string, extra = ''): string {
  return `  - name: ${name}
    aws_region: us-east-1
    host: 127.0.0.1
    port: {{lambda}}
    disable_https: true
    aws_key: {{key}}
    aws_secret: {{secret}}
${extra
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => `    ${line}`)
  .join('\n')}
`;
}
