// Runs one local function's handler in its own child process (handler-child.ts)
// for `lambda-extproc dev`: one process per function, kept warm between
// invocations, one invocation at a time (others wait in a queue, as on a
// function with reserved concurrency 1), killed on timeout and started afresh
// after a crash or a change of the handler file. Development and tests only.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { HANDLER_EXPORT, HANDLER_FILE_ENV, type FromChild, type FunctionErrorBody, type InvokeMessage } from './child-messages';

export interface LocalFunction {
  readonly name: string;
  /** Absolute path of the handler file. */
  readonly file: string;
  readonly timeoutMs: number;
  readonly memorySizeMb: number;
  /** Variables set in the handler's environment, besides Lambda's own. */
  readonly environment: Readonly<Record<string, string>>;
}

export interface InvocationRequest {
  readonly id: string;
  readonly event: string;
  readonly invokedFunctionArn: string;
  readonly clientContext: unknown;
  /** Region of the request's signature: the handler's AWS_REGION. */
  readonly region: string;
  /** InvokeWithResponseStream: a streaming handler's writes go here as they are made (else they are collected). */
  readonly sink?: ResponseSink;
}

/** Where a streaming handler's output goes while it runs. */
export interface ResponseSink {
  /** The stream's content type, before its first chunk (or at its end when it wrote none). */
  contentType(type: string): void;
  /** One write of the handler; the handler's next write waits until this resolves. */
  chunk(bytes: Buffer): Promise<void>;
}

export interface InvocationOutcome {
  /** The function's output, or Lambda's error shape when functionError is set. */
  readonly body: Buffer;
  readonly functionError: 'Unhandled' | undefined;
  /** START … REPORT, as Lambda's log stream has it. */
  readonly log: string;
  /** The handler streamed (awslambda.streamifyResponse): with a sink, its bytes went there and `body` is empty. */
  readonly streamed?: boolean;
}

export interface HandlerHost {
  invoke(request: InvocationRequest): Promise<InvocationOutcome>;
  /** Invocations running or waiting. */
  pending(): number;
  close(): Promise<void>;
}

export interface HandlerHostOptions {
  /** A line of the function's output or of the runtime's START/END/REPORT, for the terminal. */
  readonly onLine: (line: string) => void;
  /** The script the child runs; the compiled handler-child next to this file by default. */
  readonly childScript?: string;
}

// Lambda's own limit for the init phase (loading the handler file).
const INIT_TIMEOUT_MS = 10_000;
const MB = 1024 * 1024;

interface Job {
  readonly request: InvocationRequest;
  readonly resolve: (outcome: InvocationOutcome) => void;
}

interface Child {
  readonly process: ChildProcess;
  readonly mtimeMs: number;
  /** Set while an invocation runs; gets every message and the exit. */
  listener: ((message: FromChild | { type: 'exit'; reason: string }) => void) | undefined;
  exited: boolean;
}

export function createHandlerHost(fn: LocalFunction, options: HandlerHostOptions): HandlerHost {
  const queue: Job[] = [];
  let busy = false;
  let closed = false;
  let child: Child | undefined;

  const pump = (): void => {
    if (busy || closed) return;
    const job = queue.shift();
    if (job === undefined) return;
    busy = true;
    void runJob(job.request).then((outcome) => {
      busy = false;
      job.resolve(outcome);
      pump();
    });
  };

  const runJob = async (request: InvocationRequest): Promise<InvocationOutcome> => {
    const lines: string[] = [];
    const emit = (line: string): void => {
      lines.push(line);
      options.onLine(line);
    };
    emit(`START RequestId: ${request.id} Version: $LATEST`);
    const started = performance.now();
    let initMs: number | undefined;
    // A changed handler file is read afresh, as a new deployment would be.
    if (child !== undefined && (child.exited || mtimeOf(fn.file) !== child.mtimeMs)) retire(child);
    if (child === undefined) {
      const spawned = spawnChild(fn, request.region, options, (exited) => {
        if (child === exited) child = undefined;
      });
      child = spawned;
      const init = await waitForInit(spawned, emit);
      initMs = performance.now() - started;
      if (init !== undefined) {
        retire(spawned);
        return finish(request, lines, emit, started, initMs, 0, errorBody(init), undefined, 'Unhandled');
      }
    }
    const running = child;
    const invokeStarted = performance.now();
    const message: InvokeMessage = { type: 'invoke', id: request.id, event: request.event, invokedFunctionArn: request.invokedFunctionArn, deadlineMs: Date.now() + fn.timeoutMs, clientContext: request.clientContext };
    const collected: Buffer[] = [];
    let streamed = false;
    const answer = await new Promise<{ body: Buffer; functionError: 'Unhandled' | undefined; rssBytes: number; status?: string }>((resolve) => {
      const timer = setTimeout(() => {
        running.listener = undefined;
        retire(running);
        // Lambda's answer for a timed-out invocation (the environment is then reset).
        resolve({ body: errorBody({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${request.id} Error: Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds` }), functionError: 'Unhandled', rssBytes: 0, status: 'timeout' });
      }, fn.timeoutMs);
      const ack = (): void => {
        if (!running.exited && running.listener !== undefined) running.process.send({ type: 'ack', id: request.id });
      };
      running.listener = (event) => {
        if (event.type === 'log') return emit(event.line);
        if (event.type === 'content-type' && event.id === request.id) {
          streamed = true;
          return request.sink?.contentType(event.contentType);
        }
        if (event.type === 'chunk' && event.id === request.id) {
          streamed = true;
          const bytes = Buffer.from(event.data, 'base64');
          if (request.sink === undefined) {
            collected.push(bytes);
            return ack();
          }
          return void request.sink.chunk(bytes).then(ack, () => undefined);
        }
        if (event.type === 'stream-end' && event.id === request.id) {
          clearTimeout(timer);
          running.listener = undefined;
          return resolve({ body: Buffer.concat(collected), functionError: undefined, rssBytes: event.rssBytes });
        }
        if (event.type !== 'result' && event.type !== 'error' && event.type !== 'exit') return;
        if (event.type !== 'exit' && event.id !== request.id) return;
        clearTimeout(timer);
        running.listener = undefined;
        if (event.type === 'result') resolve({ body: Buffer.from(event.body, 'utf8'), functionError: undefined, rssBytes: event.rssBytes });
        else if (event.type === 'error') {
          // The child exits after an uncaught failure; the next invocation must not reach it.
          if (event.fatal) retire(running);
          resolve({ body: errorBody(event.error), functionError: 'Unhandled', rssBytes: event.rssBytes });
        } else resolve({ body: errorBody({ errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${request.id} Error: Runtime exited with error: ${event.reason}` }), functionError: 'Unhandled', rssBytes: 0, status: 'error' });
      };
      if (running.exited) running.listener({ type: 'exit', reason: 'exited before the invocation' });
      else running.process.send(message);
    });
    const outcome = finish(request, lines, emit, invokeStarted, initMs, answer.rssBytes, answer.body, answer.status, answer.functionError);
    return streamed ? { ...outcome, streamed } : outcome;
  };

  // Kills a process and forgets it, so the next invocation starts a fresh one.
  const retire = (target: Child): void => {
    stopChild(target);
    if (child === target) child = undefined;
  };

  const finish = (request: InvocationRequest, lines: string[], emit: (line: string) => void, startedAt: number, initMs: number | undefined, rssBytes: number, body: Buffer, status: string | undefined, functionError: 'Unhandled' | undefined): InvocationOutcome => {
    const duration = performance.now() - startedAt;
    emit(`END RequestId: ${request.id}`);
    emit(
      `REPORT RequestId: ${request.id}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.ceil(duration)} ms\tMemory Size: ${fn.memorySizeMb} MB\tMax Memory Used: ${Math.round(rssBytes / MB)} MB\t` +
        (initMs === undefined ? '' : `Init Duration: ${initMs.toFixed(2)} ms\t`) +
        (status === undefined ? '' : `Status: ${status}`),
    );
    return { body, functionError, log: `${lines.join('\n')}\n` };
  };

  return {
    invoke(request) {
      return new Promise((resolve) => {
        queue.push({ request, resolve });
        pump();
      });
    },
    pending: () => queue.length + (busy ? 1 : 0),
    async close() {
      closed = true;
      const waiting = queue.splice(0);
      for (const job of waiting) {
        job.resolve({ body: errorBody({ errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${job.request.id} Error: the local runtime is stopping` }), functionError: 'Unhandled', log: '' });
      }
      const last = child;
      child = undefined;
      if (last !== undefined && !last.exited) {
        const gone = new Promise<void>((resolve) => last.process.once('exit', () => resolve()));
        stopChild(last);
        await gone;
      }
    },
  };
}

function spawnChild(fn: LocalFunction, region: string, options: HandlerHostOptions, onExit: (child: Child) => void): Child {
  const script = options.childScript ?? join(__dirname, `handler-child${extname(__filename)}`);
  // Lambda's Node runtime gives the heap about 90 % of the memory size.
  const heapMb = Math.max(16, Math.floor(fn.memorySizeMb * 0.9));
  const processHandle = fork(script, [], {
    // A .ts child (a test runner's) needs the runner's loaders; the compiled child needs none, nor debugger flags.
    execArgv: [...(script.endsWith('.ts') ? process.execArgv.filter((arg) => /^--(import|require|loader|experimental-loader)\b/.test(arg)) : []), `--max-old-space-size=${heapMb}`],
    env: childEnvironment(fn, region, script),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  const spawned: Child = { process: processHandle, mtimeMs: mtimeOf(fn.file), listener: undefined, exited: false };
  // Output the handler writes past console (process.stdout, a crash's trace) goes to the terminal too.
  for (const stream of [processHandle.stdout, processHandle.stderr]) {
    if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => options.onLine(line));
  }
  processHandle.on('message', (message: FromChild) => {
    if (spawned.listener !== undefined) spawned.listener(message);
    else if (message.type === 'log') options.onLine(message.line);
  });
  processHandle.on('error', () => {
    // A failed spawn also emits exit; nothing more to do here.
  });
  processHandle.on('exit', (code, signal) => {
    spawned.exited = true;
    onExit(spawned);
    spawned.listener?.({ type: 'exit', reason: signal === null ? `exit status ${code ?? 0}` : `signal: ${signal}` });
  });
  return spawned;
}

// Resolves undefined when the handler loaded, else with the error to answer.
function waitForInit(spawned: Child, emit: (line: string) => void): Promise<FunctionErrorBody | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      spawned.listener = undefined;
      resolve({ errorType: 'Sandbox.Timedout', errorMessage: `Error: the init phase timed out after ${(INIT_TIMEOUT_MS / 1000).toFixed(2)} seconds` });
    }, INIT_TIMEOUT_MS);
    spawned.listener = (event) => {
      if (event.type === 'log') return emit(event.line);
      if (event.type !== 'ready' && event.type !== 'init-error' && event.type !== 'exit') return;
      clearTimeout(timer);
      spawned.listener = undefined;
      if (event.type === 'ready') resolve(undefined);
      else if (event.type === 'init-error') resolve(event.error);
      else resolve({ errorType: 'Runtime.ExitError', errorMessage: `Error: Runtime exited with error: ${event.reason}` });
    };
  });
}

function childEnvironment(fn: LocalFunction, region: string, script: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    // Only what a shell needs: the sidecar's own variables (AWS keys among them) stay out.
    ...pick(process.env, ['PATH', 'HOME', 'LANG', 'TMPDIR']),
    ...fn.environment,
    TZ: ':UTC',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySizeMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(),
    LAMBDA_TASK_ROOT: dirname(fn.file),
    _HANDLER: `${basename(fn.file, extname(fn.file))}.${HANDLER_EXPORT}`,
    [HANDLER_FILE_ENV]: fn.file,
  };
  // Under a TypeScript test runner the child is the .ts source and needs the runner's settings.
  if (script.endsWith('.ts')) for (const [key, value] of Object.entries(process.env)) if (key.startsWith('TS_NODE_')) env[key] = value;
  return env;
}

function pick(from: NodeJS.ProcessEnv, keys: readonly string[]): NodeJS.ProcessEnv {
  const picked: NodeJS.ProcessEnv = {};
  for (const key of keys) if (from[key] !== undefined) picked[key] = from[key];
  return picked;
}

// Lambda's form: 2026/12/01/[$LATEST]<32 hex>.
function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomUUID().replaceAll('-', '')}`;
}

function stopChild(target: Child): void {
  if (!target.exited) target.process.kill('SIGKILL');
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function errorBody(error: FunctionErrorBody): Buffer {
  return Buffer.from(JSON.stringify(error), 'utf8');
}
