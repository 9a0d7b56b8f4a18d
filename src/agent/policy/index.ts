/** The TensorFlow.js language-model policy; see README.md in this folder for the API. */
export * from './backend.js';
export * from './checkpoint.js';
export * from './context.js';
export * from './evaluate.js';
export * from './logprobs.js';
export * from './model.js';
export * from './optimizer.js';
export * from './play.js';
export * from './policy.js';
export * from './sft.js';
export * from './tokenizer.js';
