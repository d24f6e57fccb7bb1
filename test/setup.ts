// Every test file runs on the backend the project defaults to here (wasm), unless ADAPTERFUSION_BACKEND says otherwise.
import 'reflect-metadata';
import { beforeAll } from 'vitest';
import { initBackend } from '../src/backend/backend';

beforeAll(async () => {
  await initBackend(process.env.ADAPTERFUSION_BACKEND ? undefined : 'wasm');
});
