// TLS and mTLS on the gRPC port, with certificates made for the test.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import t from 'tap';
import { parseConfig } from '../../src/config/load';
import { startHarness, fakeRoute } from '../support/harness';
import { checkHealth } from '../support/health-client';

const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-tls-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const file = (name: string) => join(dir, name);

openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
for (const name of ['server', 'client']) {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name === 'server' ? 'localhost' : 'envoy'}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
}
const ca = readFileSync(file('ca.pem'));
const clientKey = readFileSync(file('client.key'));
const clientCert = readFileSync(file('client.pem'));

t.test('serves TLS when tls.cert_file and tls.key_file are set', async (t) => {
  const h = await startHarness({
    config: `tls: { cert_file: ${file('server.pem')}, key_file: ${file('server.key')} }
routes:
${fakeRoute('a', 'match: { path: /a }\nfunction_name: F')}`,
  });
  t.teardown(() => h.close());
  const address = `127.0.0.1:${h.app.port}`;
  t.equal(await checkHealth(address, '', credentials.createSsl(ca)), 'SERVING', 'a TLS client that trusts the CA is served');
  t.equal(await checkHealth(address, '', credentials.createInsecure()), 'ERROR', 'a plaintext client is not');
});

t.test('requires a client certificate from the CA when tls.client_ca_file is set (mTLS)', async (t) => {
  const h = await startHarness({
    config: `tls: { cert_file: ${file('server.pem')}, key_file: ${file('server.key')}, client_ca_file: ${file('ca.pem')} }
routes:
${fakeRoute('a', 'match: { path: /a }\nfunction_name: F')}`,
  });
  t.teardown(() => h.close());
  const address = `127.0.0.1:${h.app.port}`;
  t.equal(await checkHealth(address, '', credentials.createSsl(ca, clientKey, clientCert)), 'SERVING', 'a client with a certificate from the CA is served');
  t.equal(await checkHealth(address, '', credentials.createSsl(ca)), 'ERROR', 'a client without a certificate is refused');
  const script = join(__dirname, '..', '..', 'scripts', 'healthcheck.js');
  // Asynchronous: the server under test runs in this process.
  const probe = (env: Record<string, string>) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [script, address], { env: { PATH: process.env.PATH ?? '', ...env } });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
  const withCert = await probe({ LAMBDA_EXTPROC_HEALTH_TLS_CA: file('ca.pem'), LAMBDA_EXTPROC_HEALTH_TLS_CERT: file('client.pem'), LAMBDA_EXTPROC_HEALTH_TLS_KEY: file('client.key') });
  t.equal(withCert.code, 0, `the container health check speaks mTLS: ${withCert.output}`);
  t.equal((await probe({})).code, 1, 'and fails when it is not given the TLS files');
});

t.test('refuses a config whose TLS files are missing, naming the field', async (t) => {
  const r = parseConfig(`tls: { cert_file: ${file('nope.pem')}, key_file: ${file('server.key')} }\nroutes: [{ name: a, function_name: F }]`);
  t.notOk(r.ok);
  t.same(r.ok ? [] : r.problems, [{ path: 'tls.cert_file', message: 'file is missing or unreadable' }]);
});
