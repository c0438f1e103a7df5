// Lambda's answer → the client's response, as Kong's plugin builds it.
import { LambdaExtprocError } from '../errors';
import { HOP_BY_HOP_HEADERS, headerValue, type HeaderList, type HttpResponse } from '../http';
import type { LambdaResult } from './invoke';
import { headerLineProblem } from './header-rules';
import { toProxyResponse, valueReason } from './proxy-output';

export interface OutputOptions {
  readonly unhandled_status?: number | undefined;
  readonly handled_status?: number | undefined;
  readonly is_proxy_integration: boolean;
  readonly empty_arrays_mode: 'legacy' | 'correct';
  readonly awsgateway_compatible: boolean;
  readonly awsgateway_compatible_payload_version: '1.0' | '2.0';
}

// Hop-by-hop headers, lengths (recomputed by Envoy) and Date (Envoy sets its own).
const DROPPED = new Set([...HOP_BY_HOP_HEADERS, 'content-length', 'date']);

const JSON_TYPE = /application\/.*json/;

export function toClientResponse(result: LambdaResult, options: OutputOptions): HttpResponse {
  const headers = passThroughHeaders(result.headers);
  // In proxy mode the status comes from the output alone: unhandled_status is never consulted.
  if (options.is_proxy_integration) return toProxyResponse(result.body, headers, options.awsgateway_compatible && options.awsgateway_compatible_payload_version === '2.0');
  const functionError = headerValue(result.headers, 'x-amz-function-error');
  let status = result.status;
  // Exact, case-sensitive values, as Lambda sends them; any invocation type.
  if (functionError === 'Unhandled' && options.unhandled_status !== undefined) status = options.unhandled_status;
  if (functionError === 'Handled' && options.handled_status !== undefined) status = options.handled_status;
  // The config takes Kong's 100-999 range, but HTTP has no status above 599 (Kong answers 500 too).
  if (status > 599) throw new LambdaExtprocError('config', `status ${status} from unhandled_status/handled_status is not a valid HTTP status`);
  const body = options.empty_arrays_mode === 'legacy' ? rewriteEmptyArrays(result.body, headers) : result.body;
  return { status, headers, body };
}

/** Lambda's own response headers that go on to the client, held to the same rule as the function's (header-rules.ts). */
export function passThroughHeaders(headers: HeaderList): HeaderList {
  const kept: Array<readonly [string, string]> = [];
  for (const header of headers) {
    const [name, value] = header;
    if (DROPPED.has(name) || name.startsWith(':')) continue;
    const problem = headerLineProblem(name, value);
    if (problem !== undefined) throw new LambdaExtprocError('bad_function_output', `Lambda response header ${JSON.stringify(name)} ${valueReason(problem)}`);
    kept.push(header);
  }
  return kept;
}


// Kong's `empty_arrays_mode: legacy`: every empty JSON array becomes `{}`.
// The only path that parses and re-encodes a function's output.
function rewriteEmptyArrays(body: Buffer, headers: HeaderList): Buffer {
  const type = headerValue(headers, 'content-type')?.toLowerCase() ?? '';
  if (!JSON_TYPE.test(type) || body.length === 0) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  return Buffer.from(JSON.stringify(replaceEmptyArrays(parsed)), 'utf8');
}

function replaceEmptyArrays(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? {} : value.map(replaceEmptyArrays);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceEmptyArrays(item)]));
  }
  return value;
}
