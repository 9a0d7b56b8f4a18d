/**
 * A training run whose process is killed (SIGKILL: what `kill -9`, the OOM killer or a lost machine do) right
 * after the trainer has written step N's metrics, TensorBoard scalars and trajectories and before it saves
 * that step's checkpoint: the moment its `onStep` hook runs. The trainer tests start it as a child process:
 *
 *   node --import tsx test/rl/killed-run.ts '<train options as JSON>' N
 */
import '../../src/envs/builtin.js';
import { train } from '../../src/rl/trainer.js';

const [options, killAt] = [JSON.parse(process.argv[2]!) as Parameters<typeof train>[0], Number(process.argv[3])];
await train(options, {
  log: () => {},
  onStep: (record) => {
    if (record.step === killAt) process.kill(process.pid, 'SIGKILL');
  },
});
throw new Error(`the run ended without reaching step ${killAt}`);
