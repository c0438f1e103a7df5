// Constants every bench process agrees on: the fake's keys, the function, the
// route, and what the fake answers.

export const KEY_ID = 'AKIDBENCHFAKE0000001';
export const SECRET = 'bench/Secret+Key000000000000000000000001';
export const REGION = 'us-east-1';
export const FUNCTION_NAME = 'BenchFunction';
export const ROUTE_PATH = '/bench';
export const FUNCTION_OUTPUT = Buffer.from('{"response":"yes"}', 'utf8');
