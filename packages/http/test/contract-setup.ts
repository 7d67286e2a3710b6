// Runs in every test file (vitest setupFiles): a service answered a problem code that its OpenAPI
// document does not list for that operation and status — the document or the code is wrong.
import { afterAll, expect } from 'vitest';
import { contractViolations } from '../src/contract-check.js';

afterAll(() => {
  expect(contractViolations, 'problem codes answered but not in the OpenAPI document').toEqual([]);
});
