// API Gateway proxy-integration output ({statusCode, headers,
// multiValueHeaders, body, isBase64Encoded}; 2.0 adds cookies) validated in
// Kong's order, with Kong's reasons.
import type { HeaderList, HttpResponse } from '../http';
import { LambdaExtprocError } from '../errors';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toProxyResponse(raw: Buffer, lambdaHeaders: HeaderList, payloadV2: boolean): HttpResponse {
  if (raw.length === 0) throw badOutput('could not JSON decode Lambda function response: proxy response must be json format');
  let parsed = decodeJson(raw.toString('utf8'));
  // Kong decodes a JSON string that itself holds JSON.
  if (typeof parsed === 'string') parsed = decodeJson(parsed);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badOutput('could not JSON decode Lambda function response: proxy response must be a JSON object');
  }
  const output = parsed as Record<string, unknown>;
  // HTTP API 2.0: an object without statusCode is the JSON body of a 200.
  if (payloadV2 && !('statusCode' in output)) {
    return { status: 200, headers: [...withoutHeader(lambdaHeaders, 'content-type'), ['content-type', 'application/json']], body: raw };
  }
  const status = toStatus(output.statusCode);
  if (output.headers !== undefined && (output.headers === null || typeof output.headers !== 'object')) throw badOutput('headers must be a table');
  if (output.body !== undefined && typeof output.body !== 'string') throw badOutput('body must be a string');
  if (output.isBase64Encoded !== undefined && typeof output.isBase64Encoded !== 'boolean') throw badOutput('isBase64Encoded must be a boolean');
  const text = (output.body as string | undefined) ?? '';
  let body: Buffer;
  if (output.isBase64Encoded === true) {
    if (!BASE64.test(text.replace(/\s+/g, ''))) throw badOutput('body is not valid base64');
    body = Buffer.from(text, 'base64');
  } else {
    body = Buffer.from(text, 'utf8');
  }
  const fromPayload = new Map<string, string[]>();
  addHeaders(fromPayload, output.headers, 'headers');
  if (output.multiValueHeaders !== undefined && output.multiValueHeaders !== null) {
    if (typeof output.multiValueHeaders !== 'object' || Array.isArray(output.multiValueHeaders)) throw badOutput('multiValueHeaders must be a table');
    addHeaders(fromPayload, output.multiValueHeaders, 'multiValueHeaders');
  }
  if (payloadV2 && output.cookies !== undefined) {
    if (!Array.isArray(output.cookies) || output.cookies.some((c) => typeof c !== 'string')) throw badOutput('cookies must be an array of strings');
    fromPayload.set('set-cookie', [...(fromPayload.get('set-cookie') ?? []), ...(output.cookies as string[])]);
  }
  const headers: Array<readonly [string, string]> = lambdaHeaders.filter(([name]) => !fromPayload.has(name));
  for (const [name, values] of fromPayload) {
    if (name === 'transfer-encoding' || name === 'content-length' || name === 'connection') continue;
    for (const value of values) headers.push([name, value]);
  }
  return { status, headers, body };
}

function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badOutput(`could not JSON decode Lambda function response: ${(error as Error).message}`);
  }
}

function toStatus(value: unknown): number {
  const status = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(status) || status < 100 || status > 599) throw badOutput('statusCode validation failed');
  return status;
}

// Header values may be strings, numbers, booleans or arrays of those (one
// line each); later entries for the same name replace earlier ones.
function addHeaders(into: Map<string, string[]>, source: unknown, field: string): void {
  if (source === undefined) return;
  for (const [rawName, value] of Object.entries(source as Record<string, unknown>)) {
    const name = rawName.toLowerCase();
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) {
      throw badOutput(`${field}.${rawName} must be a string, number, boolean or an array of them`);
    }
    into.set(name, values.map(String));
  }
}

function withoutHeader(headers: HeaderList, name: string): HeaderList {
  return headers.filter(([key]) => key !== name);
}

function badOutput(reason: string): LambdaExtprocError {
  return new LambdaExtprocError('bad_function_output', `invalid proxy integration response: ${reason}`, { publicDetail: reason });
}
