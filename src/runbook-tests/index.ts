/**
 * `rectify test`: the runbook test-file format and its runner (the real engine
 * on an in-memory store, at the test's clock, executing nothing).
 */
export { parseTestFile, DEFAULT_TEST_CLOCK, EXECUTOR_KINDS, type RunbookTestFile, type RunbookTest, type Expectation, type GuardState } from './file.js';
export { loadSuiteRunbooks, runSuite, isTestFileName, type TestOutcome, type Mismatch, type Got } from './run.js';
