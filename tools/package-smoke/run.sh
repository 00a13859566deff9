#!/usr/bin/env bash
# Package smoke test: what an application team gets from the published package.
# Packs this repository (`npm pack` builds it first), installs the tarball with
# --omit=dev into a new project in a temporary folder, and from there:
#   - runs smoke.mjs (import) and smoke.cjs (require), each on a fresh database;
#   - type-checks smoke.ts as an ES module and as CommonJS (tsc --strict,
#     skipLibCheck off, module nodenext), once more with the strictest options;
#   - builds the example application (examples/clinic-app) with its own
#     tsconfig and runs it;
#   - runs the installed command: --version, --help, db env, migrate status.
# The scripts start a private local MySQL through emr-vault/testing, with its
# state inside the temporary project (never the repository's own .emr-vault),
# and it is stopped at the end, pass or fail. Needs the npm registry (for
# emr-vault's dependencies, typescript and @types/node).
#
# Prints one line per check; the last line is "package smoke test: passed" or
# "package smoke test: N failed", and the exit status is 0 only if all passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/emr-vault-smoke.XXXXXX")
project=$work/app
engine=${EMR_VAULT_ENGINE:-mysql}
export EMR_VAULT_ENGINE=$engine
# The scripts and the command line must use only what this test gives them.
unset EMR_VAULT_DB_HOST EMR_VAULT_DB_PORT EMR_VAULT_DB_USER EMR_VAULT_DB_PASSWORD \
  EMR_VAULT_DB_NAME EMR_VAULT_AUDIT_KEY EMR_VAULT_RECOVERY_PUBLIC_KEY NODE_ENV

cleanup() {
  if [ -e "$project/node_modules/emr-vault/package.json" ]; then
    (cd "$project" && node -e "
      require('emr-vault/testing')
        .stopLocalMysql({ engine: process.env.EMR_VAULT_ENGINE, stateDir: '.emr-vault' })
        .then((stopped) => stopped && console.log('stopped the smoke test server'))
    ") || echo "could not stop the smoke test server in $project/.emr-vault" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failed=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: shows the last line of the command's output if it
# passes, the last 40 if it fails.
check() {
  local what=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then
    pass "$what"
    [ -z "$out" ] || printf '%s\n' "$out" | tail -n 1 | sed 's/^/     /'
  else
    fail "$what (exit $rc)"
    printf '%s\n' "$out" | tail -n 40 | sed 's/^/     /'
  fi
}
# cli EXIT-CODE PATTERN ARGS...: `emr-vault ARGS` as installed, through npx. `--no`
# keeps npx from downloading a registry package of that name if the bin is
# missing; `--` keeps npm from taking the command's flags for its own.
cli() {
  local want=$1 pattern=$2 out rc=0
  shift 2
  out=$(npx --no -- emr-vault "$@" 2>&1) || rc=$?
  if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" <<<"$out"; then
    pass "emr-vault $* (exit $rc)"
  else
    fail "emr-vault $*: exit $rc (want $want), output should match /$pattern/"
    printf '%s\n' "$out" | head -n 20 | sed 's/^/     /'
  fi
}
fresh_db() { echo "smoke_$1_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }

echo "--- npm pack (builds first)"
tarball=$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -n 1)
tgz=$work/$tarball
tar -tzf "$tgz" | sort >"$work/contents"
echo "$tarball: $(wc -l <"$work/contents") files, $(du -k "$tgz" | cut -f1) kB"
missing=0
for f in dist/src/index.js dist/src/index.d.ts dist/src/testing/index.js \
  dist/src/testing/index.d.ts dist/src/cli/main.js bin/emr-vault.js README.md LICENSE \
  CHANGELOG.md; do
  grep -qx "package/$f" "$work/contents" || { fail "tarball lacks $f" && missing=1; }
done
[ "$missing" -eq 1 ] || pass "tarball has the library, emr-vault/testing, the CLI and the docs"
unshipped=$(grep -E '^package/(src|test|tools|seeds|node_modules)/|\.map$|\.tsbuildinfo$' \
  "$work/contents" || true)
unshipped+=$(grep -E '\.[cm]?ts$' "$work/contents" | grep -Ev '\.d\.[cm]?ts$' || true)
if [ -z "$unshipped" ]; then pass "tarball has no tests, tools, sources or maps"; else
  fail "tarball ships files that do not run:"
  head -n 20 <<<"$unshipped" | sed 's/^/     /'
fi

echo "--- a new project: npm install --omit=dev $tarball"
mkdir -p "$project"
cd "$project"
npm init -y >/dev/null
npm install --omit=dev --no-audit --no-fund --loglevel=error "$tgz"
if [ -e node_modules/tsx ]; then fail "tsx was installed"; else pass "no tsx installed"; fi
version=$(node -p "require('emr-vault/package.json').version")
check "emr-vault/package.json is exported (version $version)" test -n "$version"

echo "--- the library from an ES module and from CommonJS"
cp "$here/smoke.mjs" "$here/smoke.cjs" .
esm_db=$(fresh_db esm)
cjs_db=$(fresh_db cjs)
check "smoke.mjs: import, migrate a fresh database, register/login/create/grant/read" \
  node smoke.mjs "$esm_db"
check "smoke.cjs: require, migrate a fresh database, register/login/create/grant/read" \
  node smoke.cjs "$cjs_db"
# require(esm) must not need a flag or warn on the Node versions in "engines".
warnings=$(node smoke.cjs "$(fresh_db cjs)" 2>&1 >/dev/null || true)
if [ -z "$warnings" ]; then pass "require('emr-vault') prints nothing on stderr"; else
  fail "require('emr-vault') printed on stderr:"
  head -n 5 <<<"$warnings" | sed 's/^/     /'
fi

echo "--- type declarations (tsc, skipLibCheck false)"
ts_version=$(node -p "require('$repo/package.json').devDependencies.typescript")
types_version=$(node -p "require('$repo/package.json').devDependencies['@types/node']")
npm install --save-dev --no-audit --no-fund --loglevel=error \
  "typescript@$ts_version" "@types/node@$types_version"
cp "$here/smoke.ts" smoke.mts
cp "$here/smoke.ts" smoke.cts
tsc() {
  npx --no -- tsc --noEmit --strict --skipLibCheck false --target es2022 --types node "$@"
}
check "tsc --strict, module nodenext: smoke.ts as ESM (.mts) and as CommonJS (.cts)" \
  tsc --module nodenext smoke.mts smoke.cts
check "the same with --exactOptionalPropertyTypes --noUncheckedIndexedAccess" \
  tsc --module nodenext --exactOptionalPropertyTypes --noUncheckedIndexedAccess \
  smoke.mts smoke.cts
# The resolution older CommonJS projects still use ignores "exports": it finds
# emr-vault/testing through "typesVersions".
check "tsc --strict, module commonjs, moduleResolution node10: smoke.cts" \
  tsc --module commonjs --moduleResolution node10 smoke.cts

echo "--- the example application (examples/clinic-app) on the installed package"
# Its own tsconfig (strict, skipLibCheck off), emr-vault and knex from this
# project's node_modules; built to JavaScript and run on the local server.
cp -R "$repo/examples/clinic-app" clinic-app
rm -rf clinic-app/node_modules clinic-app/dist
check "examples/clinic-app: tsc -p against the installed declarations" \
  npx --no -- tsc -p clinic-app
check "examples/clinic-app: migrate beside emr-vault's, a visit, revoke, read back" \
  node clinic-app/dist/main.js

echo "--- the emr-vault command"
cli 0 "^$version\$" --version
cli 0 'Usage: emr-vault' --help
cli 0 'Usage: emr-vault migrate' migrate --help
db_env=$(npx --no -- emr-vault db env 2>&1) || true
if grep -q '^EMR_VAULT_DB_PORT=[0-9]' <<<"$db_env"; then
  pass "emr-vault db env (the server the scripts started)"
  eval "$(grep '^EMR_VAULT_DB_[A-Z]*=' <<<"$db_env" | sed 's/^/export /')"
  export EMR_VAULT_DB_NAME=$esm_db
  cli 0 '20261129_0001_key_hierarchy' migrate status
else
  fail "emr-vault db env: $db_env"
fi
start=$(date +%s%N)
for _ in 1 2 3 4 5; do node_modules/.bin/emr-vault --help >/dev/null; done
echo "emr-vault --help: $((($(date +%s%N) - start) / 5000000)) ms per run (mean of 5)"

echo
if [ "$failed" -eq 0 ]; then echo "package smoke test: passed"; else
  echo "package smoke test: $failed failed"
  exit 1
fi
