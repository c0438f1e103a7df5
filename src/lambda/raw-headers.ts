// Lambda answers with headers the SDK does not put on its output object
// (X-Amzn-Trace-Id, x-amzn-Remapped-Content-Length, ...). A deserialize-step
// middleware records the raw response headers of each call, keyed by the
// command input object, which is unique to one invocation.
import type { LambdaClient } from '@aws-sdk/client-lambda';

const captured = new WeakMap<object, Record<string, string>>();

interface RawResponse {
  readonly statusCode?: number;
  readonly headers?: Record<string, string>;
}

export function captureRawHeaders(client: LambdaClient): void {
  client.middlewareStack.add(
    (next, _context) => async (args) => {
      const result = await next(args);
      const response = result.response as RawResponse | undefined;
      if (response?.headers !== undefined && typeof args.input === 'object' && args.input !== null) {
        captured.set(args.input, response.headers);
      }
      return result;
    },
    { step: 'deserialize', name: 'lambdaExtprocRawHeaders', priority: 'low' },
  );
}

/** Raw headers of the response to the call made with this input, if any. */
export function rawHeadersOf(input: object): Record<string, string> | undefined {
  return captured.get(input);
}
