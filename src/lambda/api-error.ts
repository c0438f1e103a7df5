// A Lambda API error answer (4xx/5xx with a JSON document), shaped as the SDK's
// service exceptions are, so classifyInvokeError maps every invoke path alike.
// The same reading as fast-invoke.ts's: the code from x-amzn-ErrorType, else
// the body's code/__type; the message from the body.
import { headerValue, type HeaderList } from '../http';
import type { SdkErrorShape } from './invoke';

export function toLambdaApiError(status: number, headers: HeaderList, body: Buffer): SdkErrorShape {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value !== null && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // not JSON: the code comes from the header alone
  }
  const header = headerValue(headers, 'x-amzn-errortype');
  const rawCode = header ?? stringOf(parsed.code) ?? stringOf(parsed.__type) ?? '';
  // AWS sends "Code:http://internal..." in the header and "namespace#Code" in bodies.
  const code = (rawCode.split(':')[0] ?? '').split('#').pop() ?? '';
  const name = code === '' ? 'UnknownError' : code;
  const message = stringOf(parsed.message) ?? stringOf(parsed.Message) ?? name;
  return { name, message, $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers: Object.fromEntries(headers) } };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
