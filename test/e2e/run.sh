#!/usr/bin/env bash
# Runs the end-to-end tests (real registry, mount namespaces) one file at a time, from the
# repository root whatever the caller's directory.
set -euo pipefail

repository_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repository_root"

bash test/e2e/setup.sh

# Node 20's test runner takes no glob patterns, so the shell expands them.
shopt -s globstar nullglob
test_files=(test/e2e/**/*.test.ts)
if [ "${#test_files[@]}" -eq 0 ]; then
  echo "no end-to-end test files under test/e2e" >&2
  exit 1
fi

node --import tsx --test --test-concurrency=1 "${test_files[@]}"
