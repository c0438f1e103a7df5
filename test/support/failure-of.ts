// The LambdaExtprocError a promise fails with; any other outcome fails the test.
import { LambdaExtprocError } from '../../src/errors';

export async function failureOf(promise: Promise<unknown>): Promise<LambdaExtprocError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LambdaExtprocError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}
