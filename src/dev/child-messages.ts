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

/** The parent took a chunk of a streamed response: the handler's stream may write on. */
export interface AckMessage {
  readonly type: 'ack';
  readonly id: string;
}

export type ToChild = InvokeMessage | AckMessage;

export type FromChild =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: FunctionErrorBody }
  | { readonly type: 'log'; readonly id: string | undefined; readonly line: string }
  | { readonly type: 'result'; readonly id: string; readonly body: string; readonly rssBytes: number }
  // A streaming handler (awslambda.streamifyResponse): its content type, then each write, base64; the parent acks each chunk.
  | { readonly type: 'content-type'; readonly id: string; readonly contentType: string }
  | { readonly type: 'chunk'; readonly id: string; readonly data: string }
  | { readonly type: 'stream-end'; readonly id: string; readonly rssBytes: number }
  | { readonly type: 'error'; readonly id: string; readonly error: FunctionErrorBody; readonly rssBytes: number; readonly fatal: boolean };

/** What the parent tells the child at start, in its environment. */
export const HANDLER_FILE_ENV = 'LAMBDA_EXTPROC_DEV_HANDLER_FILE';
export const HANDLER_EXPORT = 'handler';
