// Starts and stops the bench's processes: the fake Lambda, the floors, the load
// generator (all forked with IPC) and the real sidecar from its CLI. Every
// start is bounded in time; every process is killed by stop() or at exit.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Job, JobResult } from './protocol';

const START_LIMIT_MS = 20_000;
const STOP_LIMIT_MS = 5_000;
/** The built sidecar CLI, seen from dist-bench/bench/. */
export const SIDECAR_CLI = join(__dirname, '..', '..', 'dist', 'main.js');

export interface Started {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export interface Worker {
  readonly pid: number;
  run(job: Job): Promise<JobResult>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_LIMIT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Forks a bench script from dist-bench/bench and waits for its ready message (with its port). */
export function forkReady(script: string, execArgv: readonly string[], args: readonly string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(__dirname, script), [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...execArgv] });
  track(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} not ready within ${START_LIMIT_MS} ms`));
    }, START_LIMIT_MS);
    child.once('message', (message: { ready?: boolean; port?: number }) => {
      clearTimeout(timer);
      resolve({ child, port: message.port ?? 0 });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
  });
}

export async function startFakeLambdaProcess(nodeFlags: readonly string[]): Promise<Started> {
  const { child, port } = await forkReady('fake-lambda-main.js', nodeFlags);
  return { pid: child.pid ?? 0, port, stop: () => stopChild(child) };
}

export async function startGrpcFloor(nodeFlags: readonly string[]): Promise<Started> {
  const { child, port } = await forkReady('grpc-floor-main.js', nodeFlags);
  return { pid: child.pid ?? 0, port, stop: () => stopChild(child) };
}

/** Floor (a+b): floor (a)'s server making floor (b)'s Invoke against the fake on `lambdaPort`. */
export async function startJoinedFloor(nodeFlags: readonly string[], lambdaPort: number): Promise<Started> {
  const { child, port } = await forkReady('joined-floor-main.js', nodeFlags, [String(lambdaPort)]);
  return { pid: child.pid ?? 0, port, stop: () => stopChild(child) };
}

/**
 * Jobs sent to a child process and answered by id ({ id, result } or
 * { id, error }); every job still waiting fails when the child exits.
 */
export function jobChannel<J, R>(child: ChildProcess): (job: J) => Promise<R> {
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  child.on('message', (reply: { readonly id: number; readonly result: R } | { readonly id: number; readonly error: string }) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if ('result' in reply) waiter.resolve(reply.result);
    else waiter.reject(new Error(`load generator failed: ${reply.error}`));
  });
  child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`load generator exited with ${code}`));
    pending.clear();
  });
  return (job) => {
    const id = nextId++;
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ id, job });
    });
  };
}

export async function startWorker(nodeFlags: readonly string[]): Promise<Worker> {
  const { child } = await forkReady('worker-main.js', nodeFlags);
  const run = jobChannel<Job, JobResult>(child);
  return {
    pid: child.pid ?? 0,
    run,
    stop: () => stopChild(child),
  };
}

const PROBLEM_LEVELS = ['warn', 'error', 'fatal'].map((level) => Buffer.from(`"level":"${level}"`));

export interface StartedSidecar extends Started {
  /** Log lines at level warn or above seen so far. */
  problems(): readonly string[];
}

/** `node [flags] dist/main.js --config FILE`, as an operator runs it; waits for its listening line (with workers, the primary's). */
export function startSidecar(configFile: string, nodeArgs: readonly string[] = [], workers = 1, cli = SIDECAR_CLI): Promise<StartedSidecar> {
  const ready = workers > 1 ? /"port":(\d+)[^\n]*lambda-extproc workers listening/ : /"port":(\d+)[^\n]*lambda-extproc listening/;
  const child = spawn(process.execPath, [...nodeArgs, cli, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  track(child);
  const problems: string[] = [];
  let head = '';
  let listening = false;
  const scan = (chunk: Buffer): void => {
    if (!listening) head += chunk.toString('utf8');
    // Only warn/error lines are kept (bounded); request lines are read and
    // dropped unread: this process shares the cores with the one measured.
    if (problems.length < 20 && PROBLEM_LEVELS.some((level) => chunk.includes(level))) {
      for (const line of chunk.toString('utf8').split('\n')) if (/"level":"(warn|error|fatal)"/.test(line) && problems.length < 20) problems.push(line.slice(0, 400));
    }
  };
  child.stdout?.on('data', scan);
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    // The AWS SDK's notice about future Node versions says nothing about this run.
    if (problems.length < 20 && !text.includes('NodeVersionSupportWarning') && !text.includes('upgrade to node') && text.trim() !== '') problems.push(text.slice(0, 400));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidecar printed no listening line within ${START_LIMIT_MS} ms:\n${head}`));
    }, START_LIMIT_MS);
    const onData = (): void => {
      const found = ready.exec(head);
      if (found === null) return;
      listening = true;
      head = '';
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({ pid: child.pid ?? 0, port: Number(found[1]), problems: () => problems, stop: () => stopChild(child) });
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`sidecar exited with ${code} before listening:\n${head}\n${problems.join('\n')}`));
    });
  });
}

/** Stats the fake Lambda keeps: every invoke it served and every call it rejected. */
export async function fakeStats(port: number): Promise<{ served: number; rejected: number; lastRejection: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/__stats`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as { served: number; rejected: number; lastRejection: string };
}
