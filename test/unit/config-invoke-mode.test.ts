// invoke_mode: BUFFERED unless a route asks for RESPONSE_STREAM, which only a
// synchronous invocation can have.
import t from 'tap';
import { formatProblems, parseConfig } from '../../src/config/load';

const problems = (text: string) => {
  const r = parseConfig(text, {});
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

t.test('routes are BUFFERED unless they say RESPONSE_STREAM, also through defaults', async (t) => {
  const r = parseConfig(
    `
defaults: { aws_region: eu-west-1 }
routes:
  - { name: a, function_name: F }
  - { name: b, function_name: G, invoke_mode: RESPONSE_STREAM }
`,
    {},
  );
  if (!r.ok) throw new Error(formatProblems(r.problems));
  t.equal(r.config.routes[0]?.invoke_mode, 'BUFFERED');
  t.equal(r.config.routes[1]?.invoke_mode, 'RESPONSE_STREAM');
  const viaDefaults = parseConfig('defaults: { invoke_mode: RESPONSE_STREAM, aws_region: eu-west-1 }\nroutes: [{ name: a, function_name: F }]\n', {});
  t.equal(viaDefaults.ok && viaDefaults.config.routes[0]?.invoke_mode, 'RESPONSE_STREAM');
});

t.test('RESPONSE_STREAM with Event or DryRun is an error at routes[i].invoke_mode', async (t) => {
  t.same(problems('routes:\n  - { name: a, function_name: F, invoke_mode: RESPONSE_STREAM, invocation_type: Event }\n'), [
    'routes[0].invoke_mode: RESPONSE_STREAM needs invocation_type RequestResponse (not Event)',
  ]);
  t.same(problems('defaults: { invocation_type: DryRun }\nroutes:\n  - { name: a, function_name: F }\n  - { name: b, function_name: F, invoke_mode: RESPONSE_STREAM }\n'), [
    'routes[1].invoke_mode: RESPONSE_STREAM needs invocation_type RequestResponse (not DryRun)',
  ]);
  t.same(problems('routes:\n  - { name: a, function_name: F, invoke_mode: RESPONSE_STREAM, invocation_type: RequestResponse }\n'), []);
  t.same(problems('routes:\n  - { name: a, function_name: F, invocation_type: Event }\n'), [], 'a buffered Event route stays valid');
});

t.test('an unknown invoke_mode is refused with the allowed values', async (t) => {
  t.same(problems('routes:\n  - { name: a, function_name: F, invoke_mode: STREAM }\n'), ['routes[0].invoke_mode: Invalid option: expected one of "BUFFERED"|"RESPONSE_STREAM"']);
});
