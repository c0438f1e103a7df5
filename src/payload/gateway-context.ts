// Request facts that both API Gateway event formats carry: host, client
// address, protocol, times, header maps and the body as Kong encodes it.
import { isIP } from 'node:net';
import type { HttpRequest } from '../http';
import { MAX_ARGS } from './args';

/** What the gateway builders read. */
export type GatewayRequest = HttpRequest;

export interface GatewayBody {
  /** Undefined only when base64_encode_body is off and the request has no body (Kong leaves the key out). */
  readonly body: string | undefined;
  readonly isBase64Encoded: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Common Log Format time in UTC, as API Gateway and Kong write it: `06/Sep/2022:03:55:14 +0000`. */
export function toClfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The Host without its port, lower-case (nginx's $host). */
export function domainNameOf(request: HttpRequest): string {
  const authority = request.authority.toLowerCase();
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}

/** Text before the first dot of the domain name (the whole name when it has none). */
export function domainPrefixOf(domainName: string): string {
  return domainName.split('.')[0] ?? domainName;
}

/**
 * The client's IP: Envoy's `source.address` attribute without its port.
 * Envoy sets it from the connection, or from X-Forwarded-For only as far as
 * use_remote_address / xff_num_trusted_hops trust it; a header the client
 * wrote is never read here. Undefined when Envoy does not send the attribute
 * (request_attributes lacks "source.address") or it is not an IP address.
 */
export function sourceIpOf(request: HttpRequest): string | undefined {
  const address = request.sourceAddress;
  return address === undefined ? undefined : ipOfAddress(address);
}

/** `10.0.0.1:51234` → `10.0.0.1`, `[::1]:5000` → `::1`; a bare IP stays; anything else (a pipe path) → undefined. */
export function ipOfAddress(address: string): string | undefined {
  let host = address;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    host = close === -1 ? '' : address.slice(1, close);
  } else if (isIP(address) === 0) {
    // IPv4 with a port: exactly one colon (a bare IPv6 address was caught by isIP).
    const colon = address.lastIndexOf(':');
    host = colon === -1 ? address : address.slice(0, colon);
  }
  return isIP(host) === 0 ? undefined : host;
}

/** `HTTP/1.1` unless Envoy told us otherwise (`request.protocol` attribute). */
export function protocolOf(request: GatewayRequest): string {
  const protocol = request.protocol;
  return protocol === undefined || protocol === '' ? 'HTTP/1.1' : protocol;
}

/** Request header lines with `host` first (from :authority), at most 100 as nginx reads them. */
export function headerLines(request: HttpRequest): Array<readonly [string, string]> {
  const lines: Array<readonly [string, string]> = [];
  if (request.authority !== '') lines.push(['host', request.authority]);
  for (const line of request.headers) if (line[0] !== 'host' || request.authority === '') lines.push(line);
  return lines.slice(0, MAX_ARGS);
}

/**
 * Kong's body rule: with base64_encode_body every body is base64 and
 * isBase64Encoded true, a missing one too (as ""); without it the raw text
 * and false, or no body key at all when there is no body.
 */
export function encodeGatewayBody(body: Buffer | null, base64: boolean): GatewayBody {
  // nginx reports a zero-length body as no body at all.
  const present = body !== null && body.length > 0 ? body : null;
  if (base64) return { body: present === null ? '' : present.toString('base64'), isBase64Encoded: true };
  return { body: present === null ? undefined : present.toString('utf8'), isBase64Encoded: false };
}
