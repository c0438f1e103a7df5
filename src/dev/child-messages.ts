// The IPC messages between the local Lambda runtime (handler-host.ts) and the
// process that runs one function's handler (handler-child.ts). Plain JSON, so
// nothing but data crosses the process boundary.

/** Lambda's error shape: what the Invoke API returns with X-Amz-Function-Error. */
export interface FunctionErrorBody {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export interface InvokeMessage {
  readonly type: 'invoke';
  readonly id: string;
  /** The invocation payload as received (already checked to be JSON). */
  readonly event: string;
  readonly invokedFunctionArn: string;
  /** Epoch ms at which the invocation times out. */
  readonly deadlineMs: number;
  readonly clientContext: unknown;
}

export type ToChild = InvokeMessage;

export type FromChild =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: FunctionErrorBody }
  | { readonly type: 'log'; readonly id: string | undefined; readonly line: string }
  | { readonly type: 'result'; readonly id: string; readonly body: string; readonly rssBytes: number }
  | { readonly type: 'error'; readonly id: string; readonly error: FunctionErrorBody; readonly rssBytes: number; readonly fatal: boolean };

/** What the parent tells the child at start, in its environment. */
export const HANDLER_FILE_ENV = 'LAMBDA_EXTPROC_DEV_HANDLER_FILE';
export const HANDLER_EXPORT = 'handler';
