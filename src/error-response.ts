// The client's response for a failed request: status from statusOf(), a small
// JSON body, Retry-After when Lambda throttled.
import { statusOf, type LambdaExtprocError } from './errors';
import type { HttpResponse } from './http';

export function toErrorResponse(error: LambdaExtprocError, preserveLambdaStatus = false): HttpResponse {
  const answer = statusOf(error, preserveLambdaStatus);
  const body = answer.detail === undefined ? { message: answer.message } : { message: answer.message, error: answer.detail };
  const headers: Array<readonly [string, string]> = [['content-type', 'application/json']];
  if (error.details.retryAfter !== undefined) headers.push(['retry-after', error.details.retryAfter]);
  return { status: answer.status, headers, body: Buffer.from(JSON.stringify(body), 'utf8') };
}
