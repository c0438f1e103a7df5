// The one-shape Invoke signer must produce exactly the signature the AWS
// SDK's own signer (@smithy/signature-v4) produces for the same request.
import { createHash, createHmac } from 'node:crypto';
import t from 'tap';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import { createInvokeSigner, uriEscape } from '../../src/lambda/sigv4';

// The SDK signer takes a hash constructor; node:crypto behind it.
function sha256Of(secret?: SourceData): Checksum {
  const bytes = (data: SourceData) => (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as Uint8Array));
  let hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  return {
    update: (data: SourceData) => void hash.update(bytes(data)),
    digest: async () => hash.digest(),
    reset: () => {
      hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
    },
  };
}
const Sha256 = function (this: unknown, secret?: SourceData) {
  return sha256Of(secret);
} as unknown as new (secret?: SourceData) => Checksum;

const cases = [
  { name: 'a plain function name', functionName: 'MyFn', qualifier: undefined, host: 'lambda.us-east-1.amazonaws.com', token: undefined },
  { name: 'a full ARN with a qualifier', functionName: 'arn:aws:lambda:eu-west-1:123456789012:function:MyFn', qualifier: 'prod', host: 'lambda.eu-west-1.amazonaws.com', token: undefined },
  { name: 'an escaped qualifier, a port and a session token', functionName: 'fn_1-x', qualifier: '$LATEST', host: '127.0.0.1:9001', token: 'IQoJb3JpZ2luX2VjE+/session=' },
];

for (const c of cases) {
  t.test(`matches the SDK signer for ${c.name}`, async (t) => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', ...(c.token === undefined ? {} : { sessionToken: c.token }) };
    const region = c.host.startsWith('lambda.') ? (c.host.split('.')[1] ?? '') : 'us-east-1';
    const path = `/2015-03-31/functions/${uriEscape(c.functionName)}/invocations`;
    const body = Buffer.from('{"key1":"value1","π":"✓"}');
    const sign = createInvokeSigner({ credentials: async () => credentials, region, host: c.host, path, qualifier: c.qualifier, invocationType: 'RequestResponse', logType: 'None', userAgent: 'lambda-extproc' });
    const ours = await sign(body);
    t.equal(ours['user-agent'], 'lambda-extproc', 'the user-agent is among the headers to send');
    t.notMatch(String(ours.authorization), /user-agent/, 'and left out of the signature');
    const amzDate = ours['x-amz-date'] ?? '';
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const sdk = new SignatureV4({ credentials, region, service: 'lambda', sha256: Sha256, uriEscapePath: true });
    const [hostname, port] = c.host.split(':');
    const theirs = await sdk.sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: hostname ?? '',
        ...(port === undefined ? {} : { port: Number(port) }),
        path,
        query: c.qualifier === undefined ? {} : { Qualifier: c.qualifier },
        headers: {
          host: c.host,
          'content-type': 'application/octet-stream',
          'content-length': String(body.length),
          'x-amz-invocation-type': 'RequestResponse',
          'x-amz-log-type': 'None',
          'user-agent': 'lambda-extproc',
        },
        body,
      },
      { signingDate },
    );
    t.equal(String(ours.authorization), String(theirs.headers.authorization ?? theirs.headers.Authorization), 'same Authorization header');
    t.equal(ours['x-amz-security-token'], theirs.headers['x-amz-security-token'], 'same session token header');
    t.equal(ours['x-amz-content-sha256'], theirs.headers['x-amz-content-sha256'], 'same payload hash header');
  });
}

t.test('caches the signing key per day and secret, and follows a rotated secret', async (t) => {
  let credentials = { accessKeyId: 'AKID1', secretAccessKey: 'first' };
  const sign = createInvokeSigner({ credentials: async () => credentials, region: 'us-east-1', host: 'h', path: '/p', qualifier: undefined, invocationType: 'Event', logType: 'Tail' });
  const a = await sign(Buffer.from('x'));
  credentials = { accessKeyId: 'AKID2', secretAccessKey: 'second' };
  const b = await sign(Buffer.from('x'));
  t.match(a.authorization, /Credential=AKID1\//);
  t.match(b.authorization, /Credential=AKID2\//);
  t.not(a.authorization?.split('Signature=')[1], b.authorization?.split('Signature=')[1], 'the new secret signs');
});

t.test('now() signs at once, exactly as the signer does, with what the provider holds fresh', async (t) => {
  const realNow = Date.now;
  // One clock second for both signatures: X-Amz-Date is part of what is signed.
  const fixedNow = Date.UTC(2026, 11, 4, 20, 15, 31, 250);
  Date.now = () => fixedNow;
  t.teardown(() => {
    Date.now = realNow;
  });
  let held: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined = { accessKeyId: 'AKID1', secretAccessKey: 'first', sessionToken: 'token1' };
  let asked = 0;
  const credentials = Object.assign(
    async () => {
      asked += 1;
      return held ?? { accessKeyId: 'AKIDFETCHED', secretAccessKey: 'fetched' };
    },
    { fresh: () => held },
  );
  const sign = createInvokeSigner({ credentials, region: 'us-east-1', host: 'h', path: '/p', qualifier: 'q', invocationType: 'RequestResponse', logType: 'None', userAgent: 'lambda-extproc' });
  const body = Buffer.from('{"a":1}');
  const now = sign.now(body);
  t.same(now, await sign(body), 'byte-identical headers');
  t.equal(now?.['x-amz-date'], '20261204T201531Z');
  t.equal(asked, 1, 'now() does not call the provider');
  held = { accessKeyId: 'AKID2', secretAccessKey: 'second' };
  t.match(sign.now(body)?.authorization, /Credential=AKID2\//, 'follows what the provider holds');
  held = undefined;
  t.equal(sign.now(body), undefined, 'nothing fresh: the caller waits for the provider');
  const plain = createInvokeSigner({ credentials: async () => ({ accessKeyId: 'A', secretAccessKey: 'S' }), region: 'us-east-1', host: 'h', path: '/p', qualifier: undefined, invocationType: 'Event', logType: 'None' });
  t.equal(plain.now(body), undefined, 'a provider that cannot tell is always asked');
});
