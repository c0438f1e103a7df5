// Each credential source alone and each adjacent pair, in Kong's order, with
// the fake Lambda checking which key and session token signed the invoke.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startHarness, type Harness } from '../support/harness';
import { startFakeImds, type FakeImds } from '../fakes/imds';
import { startFakeContainer, type FakeContainer } from '../fakes/container';
import { issuedCredentials, secretsOfIssued, startFakeSts, type FakeSts } from '../fakes/sts';

const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-creds-'));
const ENV_KEY = { id: 'AKIDENVIRONMENT00001', secret: 'env/Secret+Key00000000000000000000000001' };
const PROFILE_KEY = { id: 'AKIDPROFILE000000001', secret: 'profile/Secret+Key0000000000000000000001' };
const WEB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.web-identity-token.signature';
const ROLE = 'arn:aws:iam::123456789012:role/lambda-invoker';
const POD_TOKEN = 'pod-identity-authorization-token-000001';

const secrets = {
  [ENV_KEY.id]: ENV_KEY.secret,
  [PROFILE_KEY.id]: PROFILE_KEY.secret,
  ...secretsOfIssued('imds'),
  ...secretsOfIssued('container'),
  ...secretsOfIssued('webid'),
  ...secretsOfIssued('sts'),
  AKIDROUTEKEY00000001: 'route/Secret+Key000000000000000000000001',
};

let imds: FakeImds;
let container: FakeContainer;
let sts: FakeSts;
const baseEnv = { ...process.env };

t.before(async () => {
  imds = await startFakeImds({ mode: 'both' });
  container = await startFakeContainer({ token: POD_TOKEN });
  sts = await startFakeSts({ secrets, roles: [ROLE], webIdentityToken: WEB_TOKEN });
});
t.teardown(async () => {
  process.env = baseEnv;
  await Promise.all([imds.close(), container.close(), sts.close()]);
});

// Every source off and every AWS endpoint on loopback: nothing can reach 169.254.x.
function useEnv(extra: Record<string, string>): void {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(baseEnv)) if (!/^(AWS_|AMAZON_)/.test(name)) env[name] = value;
  env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'absent-credentials');
  env.AWS_CONFIG_FILE = join(dir, 'absent-config');
  env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url;
  env.AWS_ENDPOINT_URL_STS = sts.url;
  process.env = { ...env, ...extra };
}

function resetCounters(): void {
  imds.requests.length = 0;
  container.requests.length = 0;
  sts.calls.length = 0;
}

const ENV_SOURCE = { AWS_ACCESS_KEY_ID: ENV_KEY.id, AWS_SECRET_ACCESS_KEY: ENV_KEY.secret, AWS_SESSION_TOKEN: 'env-session-token-000001' };
function profileSource(): Record<string, string> {
  const file = join(dir, `credentials-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `[default]\nregion = us-east-1\n\n[work]\naws_access_key_id = ${PROFILE_KEY.id}\naws_secret_access_key = ${PROFILE_KEY.secret}\n`);
  return { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'work' };
}
function containerSource(): Record<string, string> {
  return { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: POD_TOKEN };
}
function webIdentitySource(): Record<string, string> {
  const file = join(dir, 'web-identity-token');
  writeFileSync(file, WEB_TOKEN);
  return { AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_ARN: ROLE, AWS_ROLE_SESSION_NAME: 'irsa-session' };
}

const route = (extra = ''): string => `
routes:
  - name: r
    match: { path: /r }
    function_name: F
    aws_region: eu-west-1
    host: 127.0.0.1
    port: {{lambda}}
    disable_https: true
${extra}`;

async function harnessFor(t: Test, extra = ''): Promise<Harness> {
  resetCounters();
  const h = await startHarness({ config: route(extra), env: process.env, lambda: { secrets } });
  t.teardown(() => h.close());
  return h;
}

t.test('environment keys sign the invoke, with the session token and the route region', async (t) => {
  useEnv(ENV_SOURCE);
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  const call = h.lambda.invocations[0];
  t.equal(call?.accessKeyId, ENV_KEY.id);
  t.equal(call?.sessionToken, 'env-session-token-000001');
  t.equal(call?.region, 'eu-west-1');
  t.equal(imds.requests.length, 0, 'IMDS is not asked');
});

t.test('a profile from AWS_PROFILE in AWS_SHARED_CREDENTIALS_FILE signs the invoke', async (t) => {
  useEnv(profileSource());
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(h.lambda.invocations[0]?.accessKeyId, PROFILE_KEY.id);
  t.equal(h.lambda.invocations[0]?.sessionToken, undefined);
});

t.test('a profile with role_arn and source_profile assumes the role with the source keys', async (t) => {
  const credentials = join(dir, 'credentials-base');
  const config = join(dir, 'config-role');
  writeFileSync(credentials, `[base]\naws_access_key_id = ${PROFILE_KEY.id}\naws_secret_access_key = ${PROFILE_KEY.secret}\n`);
  writeFileSync(config, `[profile deploy]\nrole_arn = ${ROLE}\nsource_profile = base\nrole_session_name = from-profile\n`);
  useEnv({ AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config, AWS_PROFILE: 'deploy' });
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(sts.calls.length, 1);
  t.equal(sts.calls[0]?.action, 'AssumeRole');
  t.equal(sts.calls[0]?.accessKeyId, PROFILE_KEY.id, 'STS saw the source profile key');
  t.equal(sts.calls[0]?.roleSessionName, 'from-profile');
  t.equal(sts.calls[0]?.region, 'eu-west-1');
  t.equal(h.lambda.invocations[0]?.accessKeyId, issuedCredentials('sts', 1).accessKeyId, 'Lambda saw the role credentials');
  t.equal(h.lambda.invocations[0]?.sessionToken, issuedCredentials('sts', 1).sessionToken);
});

t.test('the container provider (EKS Pod Identity) sends the authorization token', async (t) => {
  useEnv(containerSource());
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(container.requests[0]?.authorization, POD_TOKEN);
  t.equal(container.requests[0]?.path, '/v1/credentials');
  t.equal(h.lambda.invocations[0]?.accessKeyId, container.lastIssued()?.accessKeyId);
});

t.test('the container provider reads the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', async (t) => {
  const tokenFile = join(dir, 'pod-identity-token');
  writeFileSync(tokenFile, POD_TOKEN);
  useEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(container.requests[0]?.authorization, POD_TOKEN);
});

t.test('web identity (EKS IRSA) exchanges the token file at STS, unsigned', async (t) => {
  useEnv(webIdentitySource());
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(sts.calls[0]?.action, 'AssumeRoleWithWebIdentity');
  t.equal(sts.calls[0]?.webIdentityToken, WEB_TOKEN);
  t.equal(sts.calls[0]?.roleArn, ROLE);
  t.equal(sts.calls[0]?.roleSessionName, 'irsa-session');
  t.equal(h.lambda.invocations[0]?.accessKeyId, sts.lastIssued()?.accessKeyId);
  t.equal(h.lambda.invocations[0]?.sessionToken, sts.lastIssued()?.sessionToken);
});

t.test('IMDSv2: a session token, then the role and its credentials with the token', async (t) => {
  useEnv({});
  imds.options.mode = 'v2-required';
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.same(
    imds.requests.map((q) => `${q.method} ${q.path} ${q.token === undefined ? 'no-token' : 'token'}`),
    ['PUT /latest/api/token no-token', 'GET /latest/meta-data/iam/security-credentials/ token', 'GET /latest/meta-data/iam/security-credentials/ec2-instance-role token'],
  );
  t.equal(h.lambda.invocations[0]?.accessKeyId, imds.lastIssued()?.accessKeyId);
});

t.test('IMDS falls back to v1 when the token request fails (Kong default v1)', async (t) => {
  useEnv({});
  imds.options.mode = 'v1-only';
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 200);
  t.equal(imds.requests[0]?.method, 'PUT');
  t.ok(imds.requests.slice(1).every((q) => q.token === undefined), 'v1 GETs carry no token');
  t.equal(h.lambda.invocations[0]?.accessKeyId, imds.lastIssued()?.accessKeyId);
});

t.test('aws_imds_protocol_version v2 never falls back to v1', async (t) => {
  useEnv({});
  imds.options.mode = 'v1-only';
  const h = await harnessFor(t, '    aws_imds_protocol_version: v2');
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 500);
  t.match(r.body.toString(), /AWS credentials are unavailable/);
  t.notOk(imds.requests.some((q) => q.method === 'GET' && q.token === undefined), 'no v1 GET was made');
  t.match(JSON.stringify(h.logs), /IMDSv2 only/);
  imds.options.mode = 'both';
});

t.test('AWS_EC2_METADATA_DISABLED=true skips IMDS; the log names every source tried', async (t) => {
  useEnv({ AWS_EC2_METADATA_DISABLED: 'true' });
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 500);
  t.equal(h.lambda.invocations.length, 0, 'Lambda is not called');
  t.equal(imds.requests.length, 0);
  const failed = h.logs.find((l) => l.msg === 'request failed');
  t.equal(failed?.cause, 'credentials');
  t.match(String(failed?.error), /no AWS credentials found; tried environment .*profile default .*container .*web identity .*EC2 instance metadata \(disabled by AWS_EC2_METADATA_DISABLED\)/);
});

t.test('a configured but broken source is an error naming it, not a silent fall-through', async (t) => {
  useEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'wrong-token-value-0001' });
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 500);
  t.equal(imds.requests.length, 0, 'IMDS after it is not tried');
  t.match(String(h.logs.find((l) => l.msg === 'request failed')?.error), /container \(http:\/\/127\.0\.0\.1:\d+\/v1\/credentials, authorization token\) failed: .*401/);
});

const pairs: Array<{ name: string; higher: () => Record<string, string>; lower: () => Record<string, string>; route?: string; expected: () => string | undefined; lowerUntouched: () => boolean }> = [
  {
    name: 'route keys beat the environment',
    higher: () => ({}),
    lower: () => ENV_SOURCE,
    route: '    aws_key: AKIDROUTEKEY00000001\n    aws_secret: route/Secret+Key000000000000000000000001',
    expected: () => 'AKIDROUTEKEY00000001',
    lowerUntouched: () => true,
  },
  { name: 'the environment beats a profile', higher: () => ENV_SOURCE, lower: profileSource, expected: () => ENV_KEY.id, lowerUntouched: () => true },
  { name: 'a profile beats the container provider', higher: profileSource, lower: containerSource, expected: () => PROFILE_KEY.id, lowerUntouched: () => container.requests.length === 0 },
  {
    name: 'the container provider beats web identity',
    higher: containerSource,
    lower: webIdentitySource,
    expected: () => container.lastIssued()?.accessKeyId,
    lowerUntouched: () => sts.calls.length === 0,
  },
  { name: 'web identity beats IMDS', higher: webIdentitySource, lower: () => ({}), expected: () => sts.lastIssued()?.accessKeyId, lowerUntouched: () => imds.requests.length === 0 },
];

for (const pair of pairs) {
  t.test(pair.name, async (t) => {
    useEnv({ ...pair.lower(), ...pair.higher() });
    const h = await harnessFor(t, pair.route ?? '');
    const r = await h.send({ path: '/r' });
    t.equal(r.status, 200);
    t.equal(h.lambda.invocations[0]?.accessKeyId, pair.expected());
    t.ok(pair.lowerUntouched(), 'the lower source was not asked');
  });
}

t.test('a rejected web identity token is a 500 naming the source; no token, key or secret is written', async (t) => {
  const file = join(dir, 'wrong-web-identity-token');
  const wrongToken = 'eyJ-WRONG-web-identity-token-never-logged';
  writeFileSync(file, wrongToken);
  useEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_ARN: ROLE, AWS_SECRET_ACCESS_KEY: ENV_KEY.secret });
  const h = await harnessFor(t);
  const r = await h.send({ path: '/r' });
  t.equal(r.status, 500);
  t.match(String(h.logs.find((l) => l.msg === 'request failed')?.error), /environment failed: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set/);
  useEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_ARN: ROLE });
  const h2 = await harnessFor(t);
  const r2 = await h2.send({ path: '/r' });
  t.equal(r2.status, 500);
  t.match(String(h2.logs.find((l) => l.msg === 'request failed')?.error), /web identity \(role .*\) failed: InvalidIdentityToken/);
  const out = h.rawLogs() + h2.rawLogs() + r.body.toString() + r2.body.toString();
  for (const secret of [wrongToken, WEB_TOKEN, ENV_KEY.secret, POD_TOKEN]) t.notOk(out.includes(secret), 'secret not written');
});
