// Brings up the processes a run needs and takes them down again, whatever happens.
import { writeSidecarConfig } from './sidecar-config';
import { startFakeLambdaProcess, startGrpcFloor, startSidecar, startWorker, type Started, type StartedSidecar, type Worker } from './processes';

export interface Environment {
  readonly worker: Worker;
  readonly lambda: Started;
  readonly sidecar: StartedSidecar;
  readonly grpcFloor: Started;
  stop(): Promise<void>;
}

export interface EnvironmentOptions {
  readonly logLevel: string;
  readonly withGrpcFloor: boolean;
  /** Flags of every Node process started here. */
  readonly nodeFlags: readonly string[];
  /** More flags for the sidecars alone (the profiler's). */
  readonly sidecarNodeArgs?: readonly string[];
  /** The sidecar CLI to start (another build's dist/main.js); default this build's. */
  readonly sidecarCli?: string;
}

export async function startEnvironment(options: EnvironmentOptions): Promise<Environment> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop();
    stops.length = 0;
  };
  try {
    const lambda = await startFakeLambdaProcess(options.nodeFlags);
    stops.push(lambda.stop);
    const sidecarArgs = [...options.nodeFlags, ...(options.sidecarNodeArgs ?? [])];
    const config = writeSidecarConfig(lambda.port, options.logLevel);
    stops.push(async () => config.remove());
    const sidecar = await startSidecar(config.path, sidecarArgs, 1, options.sidecarCli);
    stops.push(sidecar.stop);
    const grpcFloor = options.withGrpcFloor ? await startGrpcFloor(options.nodeFlags) : sidecar;
    if (options.withGrpcFloor) stops.push(grpcFloor.stop);
    const worker = await startWorker(options.nodeFlags);
    stops.push(worker.stop);
    return { worker, lambda, sidecar, grpcFloor, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
