#!/usr/bin/env bash
# Runs every cifbridge test: gofmt, go vet, go mod tidy -diff, the Go tests with -race, the compose
# file check, and the web tests (node unit tests, tsc, headless Chromium).
# It installs what the tests need first: Go modules, the npm packages of
# web/, and Debian's chromium (when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

say "installing what the tests need"
go mod download
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "chromium is missing: installing Debian's chromium (needed by the browser tests)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "chromium is missing and this user cannot install it."
		echo "Install it (Debian/Ubuntu: sudo apt-get install -y chromium), then run this script again."
		exit 1
	fi
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error)

say "gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './web/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "these files are not gofmt-formatted (run: gofmt -w <file>):"
	echo "$unformatted"
	exit 1
fi
go vet ./...

say "go mod tidy"
if ! tidy=$(go mod tidy -diff 2>&1); then
	echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result. What tidy would change:"
	echo "$tidy"
	exit 1
fi

say "go test -race"
go test -race -count=1 -timeout 20m ./...

say "docker-compose.yml (compose-go loader, as Docker Compose itself loads it)"
(cd tools/composecheck && go run . ../../docker-compose.yml)
(cd tools/composecheck && go run . ../../docker-compose.cluster.yml)

say "web: unit tests, type check, browser tests"
(cd web && CIFBRIDGE_REQUIRE_BROWSER=1 npm test)

say "all tests passed"
