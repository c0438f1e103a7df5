// How a failed Invoke is classified. The live paths (refused, reset, 5xx, 429,
// timeout) run against the fake Lambda in faults-lambda.test.ts; DNS failures
// cannot be produced on loopback without querying a real resolver, so the
// errors Node raises for them are classified here.
import t from 'tap';
import { classifyInvokeError, type InvokeTarget } from '../../src/lambda/invoke';
import { LambdaExtprocError, statusOf } from '../../src/errors';

const target: InvokeTarget = { functionName: 'F', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 1000 };
const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });

t.test('a host that does not resolve is lambda_unreachable (502)', async (t) => {
  for (const error of [nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND lambda.nowhere.invalid'), nodeError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN lambda.nowhere.invalid')]) {
    const classified = classifyInvokeError(error, target, false, false);
    t.equal(classified.kind, 'lambda_unreachable');
    t.equal(statusOf(classified).status, 502);
    t.match(classified.message, /lambda\.nowhere\.invalid/, 'the log names the host');
  }
});

t.test('timeout wins over whatever error the abort produced; a cancel is not a Lambda fault', async (t) => {
  t.equal(classifyInvokeError(nodeError('ABORT_ERR', 'aborted'), target, true, false).kind, 'lambda_timeout');
  t.equal(classifyInvokeError(nodeError('ABORT_ERR', 'aborted'), target, false, true).kind, 'internal');
});

t.test('our own typed errors (e.g. credentials) pass through unchanged', async (t) => {
  const own = new LambdaExtprocError('credentials', 'no credentials');
  t.equal(classifyInvokeError(own, target, false, false), own);
});
