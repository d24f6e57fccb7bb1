// The public API: the only import path for tasks/, fusion/ and users.
export * from './backend/backend';
export * from './config/validate';
export * from './di/container';
export * from './task/task-plugin';
export * from './task/task-registry';
export * from './backbone/sublayer-hook';
export * from './cli/program';
export * from './util/random';
export * from './io/atomic';
export * from './tokenizer/tokenizer';
export * from './io/run-directory';
export * from './pipeline/task-sampler';
export * from './io/safetensors';
export * from './io/weights';
export * from './ops/linear';
