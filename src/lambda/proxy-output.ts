// API Gateway proxy-integration output ({statusCode, headers,
// multiValueHeaders, body, isBase64Encoded}; 2.0 adds cookies and
// statusCode-less output) validated in Kong's order, with Kong's reasons.
import { HOP_BY_HOP_HEADERS, type HeaderList, type HttpResponse } from '../http';
import { LambdaExtprocError } from '../errors';
import { headerLineProblem, type HeaderProblem } from './header-rules';

// Padding optional, as API Gateway accepts.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const WHITESPACE = /\s+/g;
// Lengths are recomputed from the final body; hop-by-hop headers are not the function's to set.
const NOT_FROM_PAYLOAD = new Set([...HOP_BY_HOP_HEADERS, 'content-length']);

export function toProxyResponse(raw: Buffer, lambdaHeaders: HeaderList, payloadV2: boolean): HttpResponse {
  // Event and DryRun invocations (and a function that returns nothing) have no output.
  if (raw.length === 0) throw badOutput('proxy response must be json format');
  let parsed = decodeJson(raw.toString('utf8'));
  // HTTP API 2.0: valid JSON without statusCode is the JSON body of a 200.
  if (payloadV2 && !isObject(parsed, 'statusCode')) {
    return { status: 200, headers: [...lambdaHeaders.filter(([name]) => name !== 'content-type'), ['content-type', 'application/json']], body: raw };
  }
  // Kong decodes a JSON string that itself holds JSON.
  if (typeof parsed === 'string') parsed = decodeJson(parsed);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badOutput('statusCode validation failed');
  const output = parsed as Record<string, unknown>;
  const status = toStatus(output.statusCode);
  if (output.headers !== undefined && (output.headers === null || typeof output.headers !== 'object')) throw badOutput('headers must be a table');
  if (output.body !== undefined && typeof output.body !== 'string') throw badOutput('body must be a string');
  if (output.isBase64Encoded !== undefined && typeof output.isBase64Encoded !== 'boolean') throw badOutput('isBase64Encoded must be a boolean');
  const body = decodeBody((output.body as string | undefined) ?? '', output.isBase64Encoded === true);
  const fromPayload = new Map<string, string[]>();
  addHeaders(fromPayload, output.headers, 'headers');
  // Absent or null multiValueHeaders are ignored (Kong 3.9 fix for null).
  if (output.multiValueHeaders !== undefined && output.multiValueHeaders !== null) {
    if (typeof output.multiValueHeaders !== 'object') throw badOutput('multiValueHeaders must be a table');
    addHeaders(fromPayload, output.multiValueHeaders, 'multiValueHeaders');
  }
  if (payloadV2 && output.cookies !== undefined && output.cookies !== null) {
    if (!Array.isArray(output.cookies) || output.cookies.some((c) => typeof c !== 'string')) throw badOutput('cookies must be an array of strings');
    (output.cookies as string[]).forEach((cookie, i) => {
      const problem = headerLineProblem('set-cookie', cookie);
      if (problem !== undefined) throw badOutput(`cookies[${i}] ${valueReason(problem)}`);
    });
    fromPayload.set('set-cookie', [...(fromPayload.get('set-cookie') ?? []), ...(output.cookies as string[])]);
  }
  // Payload headers replace Lambda's of the same name; an empty array removes it.
  const headers: Array<readonly [string, string]> = lambdaHeaders.filter(([name]) => !fromPayload.has(name));
  for (const [name, values] of fromPayload) {
    if (NOT_FROM_PAYLOAD.has(name)) continue;
    for (const value of values) headers.push([name, value]);
  }
  return { status, headers, body };
}

function isObject(value: unknown, withKey: string): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && withKey in value;
}

function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badOutput(error instanceof Error ? error.message : String(error));
  }
}

// A number or numeric string in 100..599; anything else (missing included) fails.
function toStatus(value: unknown): number {
  const status = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(status) || status < 100 || status > 599) throw badOutput('statusCode validation failed');
  return Math.trunc(status);
}

function decodeBody(text: string, base64: boolean): Buffer {
  if (!base64) return Buffer.from(text, 'utf8');
  const compact = text.replace(WHITESPACE, '');
  if (!BASE64.test(compact)) throw badOutput('body is not valid base64');
  return Buffer.from(compact, 'base64');
}

// Values may be strings, numbers, booleans or arrays of those (one line
// each); names are case-insensitive, so a later spelling replaces an earlier one.
function addHeaders(into: Map<string, string[]>, source: unknown, field: string): void {
  if (source === undefined) return;
  // An empty JSON array is how some runtimes serialise an empty map.
  if (Array.isArray(source)) {
    if (source.length === 0) return;
    throw badOutput(`${field} must be a table`);
  }
  for (const [rawName, value] of Object.entries(source as Record<string, unknown>)) {
    const name = rawName.toLowerCase();
    if (headerLineProblem(rawName, '') !== undefined) throw badOutput(`${field} has an invalid header name ${JSON.stringify(rawName)}`);
    const values = Array.isArray(value) ? value : [value];
    const lines: string[] = [];
    for (const item of values) {
      if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') {
        throw badOutput(`${field}.${rawName} must be a string, number, boolean or an array of them`);
      }
      const line = String(item);
      const problem = headerLineProblem(rawName, line);
      if (problem !== undefined) throw badOutput(`${field}.${rawName} ${valueReason(problem)}`);
      lines.push(line);
    }
    into.set(name, lines);
  }
}

export function valueReason(problem: HeaderProblem): string {
  return problem === 'line break' ? 'holds a line break' : problem === 'control character' ? 'holds a control character' : 'has an invalid header name';
}

function badOutput(reason: string): LambdaExtprocError {
  // Kong's 502 body: {"message":"Bad Gateway","error":"could not JSON decode Lambda function response: <reason>"}.
  const detail = `could not JSON decode Lambda function response: ${reason}`;
  return new LambdaExtprocError('bad_function_output', `invalid proxy integration response: ${reason}`, { publicDetail: detail });
}
