// A test certificate authority made at test time with node:crypto alone (no
// openssl binary, no dependency): EC P-256 keys, X.509 v3 certificates
// encoded in DER by the few ASN.1 rules they need, signed ECDSA-SHA256.
// Plus a TLS front that terminates TLS with such a certificate and passes the
// bytes on to a plain-HTTP fake, as AWS's endpoint terminates TLS.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { connect, isIPv4, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface IssuedCertificate {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
}

export interface TestCa extends IssuedCertificate {
  /** A server certificate for the given DNS names and IPv4 addresses, signed by this CA. */
  issue(names: { dns?: string[]; ip?: string[] }): IssuedCertificate;
}

// --- DER, just enough for certificates ---

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), length(content.length), content]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 + n, content);
const octets = (content: Buffer): Buffer => tlv(0x04, content);
const bits = (content: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), content]));
const bool = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));

function integer(value: Buffer): Buffer {
  let bytes = value;
  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) bytes = bytes.subarray(1);
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (commonName: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function keyId(publicKey: KeyObject): Buffer {
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (the SPKI's last 65 bytes for an uncompressed P-256 point).
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function certificate(options: { subject: string; issuer: string; publicKey: KeyObject; signer: KeyObject; issuerKeyId: Buffer; extensions: Buffer[] }): string {
  const now = Date.now();
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(options.issuer),
    seq(time(new Date(now - 60 * 60 * 1000)), time(new Date(now + 2 * 24 * 60 * 60 * 1000))),
    name(options.subject),
    options.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...options.extensions, extension('2.5.29.14', false, octets(keyId(options.publicKey))), extension('2.5.29.35', false, seq(tlv(0x80, options.issuerKeyId))))),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, options.signer)));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pemKey = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A fresh CA, valid from an hour ago for two days. */
export function createTestCa(commonName = 'lambda-extproc test CA'): TestCa {
  const ca = newKey();
  const caKeyId = keyId(ca.publicKey);
  const cert = certificate({
    subject: commonName,
    issuer: commonName,
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    issuerKeyId: caKeyId,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true))), // basicConstraints CA:TRUE
      extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyUsage keyCertSign, cRLSign
    ],
  });
  return {
    cert,
    key: pemKey(ca.privateKey),
    issue({ dns = [], ip = [] }) {
      const leaf = newKey();
      const altNames = [
        ...dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
        ...ip.map((address) => {
          if (!isIPv4(address)) throw new Error(`IPv4 only: ${address}`);
          return tlv(0x87, Buffer.from(address.split('.').map(Number)));
        }),
      ];
      const leafCert = certificate({
        subject: dns[0] ?? ip[0] ?? 'server',
        issuer: commonName,
        publicKey: leaf.publicKey,
        signer: ca.privateKey,
        issuerKeyId: caKeyId,
        extensions: [
          extension('2.5.29.19', true, seq()), // basicConstraints CA:FALSE
          extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // keyUsage digitalSignature
          extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage serverAuth
          extension('2.5.29.17', false, seq(...altNames)), // subjectAltName
        ],
      });
      // Checked here, so a broken encoder fails as itself and not as a TLS error in a test.
      const parsed = new X509Certificate(leafCert);
      if (!parsed.verify(new X509Certificate(cert).publicKey)) throw new Error('test CA: issued certificate does not verify');
      return { cert: leafCert, key: pemKey(leaf.privateKey) };
    },
  };
}

export interface TlsFront {
  readonly port: number;
  /** TLS handshakes that failed (the client refused the certificate), with the reason the server saw. */
  readonly failedHandshakes: string[];
  /** Connections that completed a handshake and were passed on. */
  connections(): number;
  close(): Promise<void>;
}

/** Terminates TLS on 127.0.0.1 with `certificate` and pipes each connection to the plain-HTTP server on `targetPort`. */
export async function startTlsFront(certificate: IssuedCertificate, targetPort: number): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  const failedHandshakes: string[] = [];
  let passed = 0;
  const server = createTlsServer({ key: certificate.key, cert: certificate.cert }, (socket) => {
    passed += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(socket).add(upstream);
    socket.on('close', () => sockets.delete(socket));
    upstream.on('close', () => sockets.delete(upstream));
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  server.on('tlsClientError', (error: Error) => failedHandshakes.push(error.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    failedHandshakes,
    connections: () => passed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
