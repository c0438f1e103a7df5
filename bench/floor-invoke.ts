// The invoke side of the floors: the cheapest correct signed Lambda Invoke in
// Node, an undici keep-alive Pool on its dispatch API (as the sidecar's lean
// invoke), the one-shape SigV4 signer (signing key cached per day), one
// attempt, the whole answer read and checked.
import { Pool, type Dispatcher } from 'undici';
import { FUNCTION_NAME, FUNCTION_OUTPUT, KEY_ID, REGION, SECRET } from './fixtures';
import { createInvokeSigner } from '../src/lambda/sigv4';

export const REQUEST_TIMEOUT_MS = 10_000;

export interface FloorInvoke {
  sign(payload: Buffer): Promise<Record<string, string>>;
  /** One signed Invoke: status and the whole body. */
  post(headers: Record<string, string>, payload: Buffer): Promise<{ statusCode: number; body: Buffer }>;
  close(): Promise<void>;
}

/** Throws unless the fake answered 200 with the function's output. */
export function checkAnswer(statusCode: number, body: Buffer): void {
  if (statusCode !== 200 || !body.equals(FUNCTION_OUTPUT)) throw new Error(`Lambda answered ${statusCode}: ${body.subarray(0, 200).toString('utf8')}`);
}

export function createFloorInvoke(lambdaPort: number, connections: number): FloorInvoke {
  const host = `127.0.0.1:${lambdaPort}`;
  const path = `/2015-03-31/functions/${FUNCTION_NAME}/invocations`;
  const pool = new Pool(`http://${host}`, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const identity = { accessKeyId: KEY_ID, secretAccessKey: SECRET };
  const sign = createInvokeSigner({ credentials: async () => identity, region: REGION, host, path, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None' });
  return {
    sign,
    post: (headers, payload) => post(pool, { method: 'POST', path, headers, body: payload, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS }),
    close: () => pool.destroy(),
  };
}

/** One request on undici's dispatch API: status and the whole body. */
function post(pool: Pool, options: Dispatcher.DispatchOptions): Promise<{ statusCode: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let statusCode = 0;
    pool.dispatch(options, {
      onRequestStart: () => undefined,
      onResponseStart: (_controller, code) => {
        statusCode = code;
      },
      onResponseData: (_controller, chunk) => {
        chunks.push(chunk);
      },
      onResponseEnd: () => resolve({ statusCode, body: Buffer.concat(chunks) }),
      onResponseError: (_controller, error) => reject(error),
    });
  });
}
