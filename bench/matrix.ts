// The benchmark: every cell of the matrix, then the headline cells again for
// each round, with the floors measured next to the sidecar every time.
import type { Environment } from './environment';
import { measureCell, measureFloorB, measureSidecar, type CellResult, type Targets } from './measure-cell';
import type { BenchOptions } from './options';
import type { HeadlineRound } from './report';
import { formatBytes } from './report';

export interface MatrixResults {
  readonly matrix: CellResult[];
  readonly headline: HeadlineRound[];
}

export async function runMatrix(env: Environment, options: BenchOptions, log: (line: string) => void): Promise<MatrixResults> {
  const targets: Targets = { worker: env.worker, lambda: env.lambda, sidecar: env.sidecar, grpcFloor: env.grpcFloor, maxConnections: options.maxConnections };
  const window = { warmupMs: options.warmupMs, durationMs: options.durationMs };
  // JIT warm-up of every process before anything is measured.
  const warm = { warmupMs: 0, durationMs: options.quick ? 1000 : 2000 };
  await measureFloorB(targets, 16, 1024, warm);
  const warmCell = { concurrency: 16, bodyBytes: 1024, closeMode: options.closeModes[0] ?? 'graceful' } as const;
  const warmed = await measureCell(targets, warmCell, warm, await measureFloorB(targets, 16, 0, warm));
  const matrix: CellResult[] = [];
  for (const bodyBytes of options.bodies) {
    for (const concurrency of options.concurrencies) {
      const floorB = await measureFloorB(targets, concurrency, bodyBytes, window);
      for (const closeMode of options.closeModes) {
        const result = await measureCell(targets, { concurrency, bodyBytes, closeMode }, window, floorB);
        log(`  c${concurrency} ${formatBytes(bodyBytes)} ${closeMode}: sidecar ${result.sidecar.rps.toFixed(0)} req/s, composite floor ${result.compositeRps.toFixed(0)} req/s → ${result.throughputRatio.toFixed(2)}; CPU ${result.cpuRatio.toFixed(2)}× floors; errors ${result.sidecar.errors}`);
        matrix.push(result);
      }
    }
  }
  const headline: HeadlineRound[] = [];
  const headlineWindow = { warmupMs: options.warmupMs, durationMs: options.headlineMs };
  // After the 1 MiB cells, and for the workers: N sidecar after idling through the matrix,
  // the first headline cell ran at half speed: warm both again right before the rounds.
  // The workers saw no load yet, so they get every headline body (a bodiless
  // request takes other code paths than one with a body).
  await measureCell(targets, warmCell, warm, warmed.floorB);
  if (env.multi !== undefined) {
    for (const bodyBytes of options.headlineBodies) {
      const cell = { concurrency: options.headlineConcurrency, bodyBytes, closeMode: warmCell.closeMode };
      await measureSidecar(targets, env.multi, cell, warm, warmed.floorA, warmed.floorB);
    }
  }
  for (let round = 1; round <= options.runs; round++) {
    const cells: CellResult[] = [];
    for (const bodyBytes of options.headlineBodies) {
      const floorB = await measureFloorB(targets, options.headlineConcurrency, bodyBytes, headlineWindow);
      for (const closeMode of options.closeModes) {
        const cell = { concurrency: options.headlineConcurrency, bodyBytes, closeMode };
        const single = await measureCell(targets, cell, headlineWindow, floorB);
        cells.push(single);
        // The same cell with `workers: N`, against the same floors.
        if (env.multi !== undefined) cells.push(await measureSidecar(targets, env.multi, cell, headlineWindow, single.floorA, floorB));
      }
    }
    log(`  headline round ${round}: ${cells.map((c) => `${formatBytes(c.bodyBytes)} ${c.closeMode} w${c.workers} ${c.throughputRatio.toFixed(2)} / CPU ${c.cpuRatio.toFixed(2)}`).join(', ')}`);
    headline.push({ round, cells });
  }
  return { matrix, headline };
}
