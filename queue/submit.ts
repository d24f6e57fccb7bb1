import { FlowProducer } from 'bullmq';
import { dirname } from 'node:path';
import { experimentForSeed, experimentSeeds, experimentStages, seedRunDir, type ExperimentQueue } from '../fusion/index';
import { connection, fileHash } from './jobs';
import { planExperiment } from './plan';

/**
 * The BullMQ queue as fusion's `ExperimentQueue`: checks every stage of every seed as a local `run` does, then adds the
 * experiment's flows (`planExperiment`).
 */
export const bullmqExperimentQueue: ExperimentQueue = {
  async submit({ url, file, config, runDir, container }, io) {
    for (const seed of experimentSeeds(config)) experimentStages(container, experimentForSeed(config, seed), seedRunDir(config, runDir, seed), { baseDir: dirname(file), source: file });
    const flows = planExperiment(config, file, fileHash(file), runDir, Date.now().toString(36));
    const producer = new FlowProducer({ connection: connection(url) });
    try {
      const added = await producer.addBulk(flows);
      const count = (node: (typeof added)[number]): number => 1 + (node.children ?? []).reduce((sum, child) => sum + count(child), 0);
      io.out(`queued ${added.reduce((sum, node) => sum + count(node), 0)} jobs of ${file} (run directory ${runDir}) on ${url}\n`);
      io.out(`start workers with: adapterfusion worker --queue ${url}\nwatch them with:   adapterfusion queue status --queue ${url}\n`);
    } finally {
      await producer.close();
    }
  },
};
