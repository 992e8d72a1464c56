// Asserts that a call fails with an ApiError, and returns it for further checks.

import assert from 'node:assert/strict';
import { ApiError } from '../../src/domain/status.js';

/** @example assert.equal(apiFailure(() => decodeImageConfig([])).status, '00001006'); */
export function apiFailure(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a failure');
}
