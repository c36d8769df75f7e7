// Runs every test file under test/ with Node's own runner, naming each file explicitly.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const only = process.argv.slice(2);
const files = only.length > 0 ? only : globSync('test/**/*.test.ts').sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
