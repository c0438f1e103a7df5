// The one error type of lambda-extproc. Every failure that reaches a client is
// one of these kinds, and statusOf() is the only place that maps a kind to an
// HTTP status.

export type ErrorKind =
  | 'config' // the route or the sidecar is configured wrongly
  | 'unknown_route' // Envoy named a route that the config does not have
  | 'no_region' // no aws_region, AWS_REGION, AWS_DEFAULT_REGION or lambda host
  | 'credentials' // no credential source answered
  | 'lambda_unreachable' // connect refused, DNS, reset, truncated answer
  | 'lambda_timeout' // the route's timeout elapsed before Lambda answered
  | 'lambda_throttled' // Lambda answered 429
  | 'lambda_too_large' // Lambda answered 413 (request or response over its limit)
  | 'lambda_denied' // Lambda answered 401/403: a signing or IAM problem of ours
  | 'lambda_service' // Lambda answered another 4xx or a 5xx
  | 'lambda_response_too_large' // the answer cannot be carried: over Lambda's largest response, or over what Envoy accepts
  | 'bad_function_output' // proxy-integration output that is not a valid response
  | 'function_error' // a streaming function failed after its response had started (InvokeComplete with ErrorCode)
  | 'payload_too_large' // the invocation payload would exceed Lambda's limit
  | 'body_truncated' // Envoy sent only part of the body (BUFFERED_PARTIAL)
  | 'body_mode' // Envoy will not send the body this route needs
  | 'bad_request' // the client request cannot be turned into a payload
  | 'internal'; // anything unexpected: details go to the log only

export interface ErrorDetails {
  /** Status that Lambda's API answered, when the error came from it. */
  readonly upstreamStatus?: number;
  /** AWS error code (e.g. ResourceNotFoundException), safe to log. */
  readonly awsCode?: string;
  /** Seconds, from Lambda's Retry-After header on throttling. */
  readonly retryAfter?: string;
  /** Extra detail for the client (e.g. which field of the function output is wrong). */
  readonly publicDetail?: string;
}

export class LambdaExtprocError extends Error {
  readonly kind: ErrorKind;
  readonly details: ErrorDetails;

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LambdaExtprocError';
    this.kind = kind;
    this.details = details;
  }
}

const STATUS: Record<ErrorKind, number> = {
  config: 500,
  unknown_route: 500,
  no_region: 500,
  credentials: 500,
  lambda_unreachable: 502,
  lambda_timeout: 504,
  lambda_throttled: 429,
  lambda_too_large: 413,
  lambda_denied: 500,
  lambda_service: 502,
  lambda_response_too_large: 502,
  bad_function_output: 502,
  function_error: 502,
  payload_too_large: 413,
  body_truncated: 413,
  body_mode: 500,
  bad_request: 400,
  internal: 500,
};

// What the client may read; the full message (which may name hosts or AWS
// codes, never secrets) goes to the log.
const PUBLIC_MESSAGE: Record<ErrorKind, string> = {
  config: 'lambda-extproc route is misconfigured',
  unknown_route: 'lambda-extproc has no route of that name',
  no_region: 'no region or host specified',
  credentials: 'AWS credentials are unavailable',
  lambda_unreachable: 'Bad Gateway',
  lambda_timeout: 'Gateway Timeout',
  lambda_throttled: 'Too Many Requests',
  lambda_too_large: 'Payload Too Large',
  lambda_denied: 'An unexpected error occurred',
  lambda_service: 'Bad Gateway',
  lambda_response_too_large: 'Bad Gateway',
  bad_function_output: 'Bad Gateway',
  function_error: 'Bad Gateway',
  payload_too_large: 'Payload Too Large',
  body_truncated: 'Payload Too Large',
  body_mode: 'request body unavailable: set request_body_mode: BUFFERED in the Envoy ext_proc filter',
  bad_request: 'Bad Request',
  internal: 'An unexpected error occurred',
};

export interface ErrorAnswer {
  readonly status: number;
  readonly message: string;
  readonly detail?: string;
}

/** Maps an error to the status and safe message the client gets. */
export function statusOf(error: LambdaExtprocError, preserveLambdaStatus = false): ErrorAnswer {
  const upstream = error.details.upstreamStatus;
  const status =
    preserveLambdaStatus && upstream !== undefined && upstream >= 400 && upstream <= 599 ? upstream : STATUS[error.kind];
  const message = error.kind === 'unknown_route' || error.kind === 'body_mode' ? error.message : PUBLIC_MESSAGE[error.kind];
  return error.details.publicDetail === undefined ? { status, message } : { status, message, detail: error.details.publicDetail };
}

/** Normalises any thrown value: ours pass through, the rest become `internal`. */
export function toLambdaExtprocError(value: unknown): LambdaExtprocError {
  if (value instanceof LambdaExtprocError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new LambdaExtprocError('internal', message, {}, { cause: value });
}
