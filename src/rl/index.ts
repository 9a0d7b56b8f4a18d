/** The RL layer: the trainer, its options and presets, losses, advantages, rewards, curricula, metrics, reports. */
export { train, RL_SEED_BASE, type TrainResult, type TrainHooks } from './trainer.js';
export { trainingExamples, type Example } from './update.js';
export { trainConfigSchema, type TrainConfig, type TrainOptions } from './config.js';
export { PRESETS, type Preset } from './presets.js';
export { policyLoss, lossConfigSchema, type LossConfig, type LossInputs, type LossOutput } from './losses.js';
export * from './advantages.js';
export * from './rewards.js';
export * from './curriculum.js';
export { METRICS, MetricsWriter, readMetrics, type MetricsRecord } from './metrics.js';
export type { TrajectoryRecord, TrajectoryTurn } from './trajectories.js';
export { type EnvFactory, envFactory } from './env-factory.js';
export { collectRollouts, answerProbe, type Trajectory, type RolloutTurn } from './rollout.js';
export { writeReport } from './report.js';
export { TensorBoardWriter } from './tensorboard.js';
