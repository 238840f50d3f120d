#!/usr/bin/env bash
# Runs every test of web/: the node unit tests (no browser; they include
# test/package.test.js, which npm-packs client/ and installs it), the tsc type
# check of the hand-written .d.ts files, and the browser tests in headless
# Chromium against the real daemon (built with `go build` from the repo).
#
# Needs: node >= 20, `npm ci` done in web/, go, and Debian's chromium at
# /usr/bin/chromium (or $CHROMIUM_PATH). Without chromium the browser tests
# are skipped with a message, unless CIFBRIDGE_REQUIRE_BROWSER is set (CI):
# then they fail. Screenshots land in <repo>/test-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== web: %s\n' "$*"; }

if [ ! -x node_modules/.bin/tsc ] || [ ! -d node_modules/playwright-core ]; then
	echo "web: npm packages are missing: run 'npm ci' in web/ first (typescript, playwright-core)." >&2
	exit 1
fi
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
	if [ -n "${CIFBRIDGE_REQUIRE_BROWSER:-}" ]; then
		echo "web: chromium not found at $chromium and CIFBRIDGE_REQUIRE_BROWSER is set." >&2
		echo "     Install it (Debian/Ubuntu: apt-get install -y chromium) or point CHROMIUM_PATH at it." >&2
		exit 1
	fi
	echo "web: chromium not found at $chromium: the browser tests will be skipped (apt-get install -y chromium)."
fi

say "unit tests (node --test)"
node --test test/*.test.js

say "type check (tsc --noEmit)"
node_modules/.bin/tsc --noEmit -p tsconfig.json

say "browser tests (headless Chromium, one file at a time)"
node --test --test-concurrency=1 test/browser/*.test.js

say "ok"
