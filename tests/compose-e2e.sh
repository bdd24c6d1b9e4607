#!/usr/bin/env bash
# End-to-end test of the real Compose stack (docker-compose.yml + Dockerfile):
# build, start, the client's demo, the HTTP API through curl, the S3 API
# through aws-cli, persistence
# across `down`/`up`, and placement around a stopped node.
#
# Needs Docker with Compose v2, curl, jq (scripts/install-docker.sh) and
# aws-cli. Uses
# the local base images of scripts/local-base-images.sh unless RUST_IMAGE,
# DEBIAN_IMAGE and POSTGRES_IMAGE are already set. Host ports 8000-8003 must
# be free: `docker compose up` fails, and says so, when one is not.
# Everything it creates (its own project's containers, network, volumes and
# images) is removed on exit; KEEP_IMAGES=1 keeps the images.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

PROJECT=cdne2e$(date +%s)$$          # unique, so nothing else is touched
DIST=http://localhost:8000
W=$(mktemp -d)
PASS=0
PHASES=()
unset REPLICATION                    # the Compose default: two copies of each object

log()  { echo "e2e: $*" >&2; }
fail() { echo "e2e: FAIL: $*" >&2; exit 1; }
ok()   { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }
dc()   { docker compose -p "$PROJECT" "$@"; }

# Phases: phase NAME starts one (and ends the previous); times go in the summary.
PHASE= ; PHASE_T0=0
phase() {
  local now; now=$(date +%s.%N)
  if [ -n "$PHASE" ]; then
    local took; took=$(awk -v a="$PHASE_T0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
    PHASES+=("$(printf '%-12s %7s s' "$PHASE" "$took")")
    log "phase $PHASE took $took s"
  fi
  PHASE=${1:-}; PHASE_T0=$now
  [ -z "$PHASE" ] || log "== phase $PHASE"
}

cleanup() {
  local rc=$?
  set +e; trap - ERR
  phase teardown
  if [ "$rc" -ne 0 ]; then
    log "failed (exit $rc); state of project $PROJECT:"
    dc --profile client ps -a >&2
    dc --profile client logs --no-color --tail=60 >&2
  fi
  log "removing project $PROJECT"
  dc --profile client down -v --remove-orphans -t 10 >/dev/null 2>&1
  if [ -z "${KEEP_IMAGES:-}" ]; then
    # Only this project's tags (<project>-<service>); shared layers stay cached.
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$PROJECT-" | xargs -r docker image rm >/dev/null
  fi
  rm -rf "$W"
  phase
  printf '  %s\n' "${PHASES[@]}" >&2
  if [ "$rc" -eq 0 ]; then echo "e2e: $PASS passed, 0 failed"; else echo "e2e: $PASS passed, 1 failed"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "e2e: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# req ARGS...: one curl call; status in CODE, body in $W/body, headers in $W/headers.
req() { CODE=$(curl -sS -o "$W/body" -D "$W/headers" -w '%{http_code}' "$@"); }
expect() { [ "$CODE" = "$1" ] || fail "$2: expected HTTP $1, got $CODE: $(head -c 400 "$W/body")"; }
header() { grep -i "^$1:" "$W/headers" | tail -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
same() { cmp -s "$1" "$2" || fail "$3: bytes differ ($(wc -c < "$2") bytes received, $(wc -c < "$1") expected)"; }

# until_ok SECONDS DESCRIPTION COMMAND...: poll a condition, bounded in time.
until_ok() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || fail "timed out after ${limit}s waiting for $what"
    sleep 1
  done
}
nodes_json() { curl -sS --max-time 5 "$DIST/nodes" > "$W/nodes.json" 2>/dev/null; }
all_up() { nodes_json && [ "$(jq '[.nodes[] | select(.status == "up")] | length' "$W/nodes.json")" = 3 ]; }
node_is() { nodes_json && [ "$(jq -r --arg n "$1" '.nodes[] | select(.id == $n) | .status' "$W/nodes.json")" = "$2" ]; }
# The placement rule: lowest storagep among up nodes, then lowest memory, then
# id; the first two (REPLICATION=2), as a sorted list. With a file of an
# earlier /nodes as $1, storagep is taken from it (so an upload made since
# does not count) and memory from now.
pick() {
  local earlier=${1:-$W/nodes.json}
  nodes_json && jq -r --slurpfile earlier "$earlier" '
    ($earlier[0].nodes | map({key: .id, value: .stats.storagep}) | from_entries) as $storagep
    | [.nodes[] | select(.status == "up" and .stats != null)]
    | sort_by($storagep[.id], .stats.memory, .id) | .[0:2] | map(.id) | sort | join(",")' "$W/nodes.json"
}

# upload FILE NAME: POST it with the admin token; the Content JSON lands in $W/NAME.json.
upload() {
  req -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$DIST/content?filename=$2"
  expect 201 "upload of $2"
  cp "$W/body" "$W/$2.json"
  jq -e '.id and .sha256 and (.replicas | length >= 1)' "$W/$2.json" >/dev/null ||
    fail "upload of $2: Content lacks id, sha256 or replicas: $(cat "$W/$2.json")"
}

# --- preconditions -----------------------------------------------------------
docker compose version >/dev/null 2>&1 || fail "docker compose v2 is missing: run scripts/install-docker.sh"
for t in curl jq awk cmp sha256sum; do command -v $t >/dev/null || fail "$t is missing: run scripts/install-docker.sh"; done
if [ -z "${RUST_IMAGE:-}${DEBIAN_IMAGE:-}${POSTGRES_IMAGE:-}" ]; then
  phase base-images
  eval "$(scripts/local-base-images.sh)"
fi
log "project $PROJECT; base images: $RUST_IMAGE, $DEBIAN_IMAGE, $POSTGRES_IMAGE"
# Without BuildKit, Compose would run the same cargo build for every service in
# parallel: build one at a time so the later ones come from the layer cache.
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0 COMPOSE_PARALLEL_LIMIT=1; fi

# --- build and start ---------------------------------------------------------
phase build
dc --profile client build >"$W/build.log" 2>&1 || { tail -40 "$W/build.log" >&2; fail "docker compose build"; }
ok "images built"
docker images --filter "reference=$PROJECT-*" --format '{{.Repository}}\t{{.Size}}' >&2

phase up
# Host ports 8000-8003 are Compose's to bind: if another stack holds one,
# `up` itself says so (no probing beforehand, which a race could fool).
dc up -d --wait --wait-timeout 180 || fail "docker compose up --wait: services not healthy (host ports 8000-8003 taken by another stack?)"
until_ok 30 "three nodes up in /nodes" all_up
ok "stack up, three nodes up"

# --- credentials made by the secrets service ----------------------------------
phase secrets
TOKEN=$(dc run --rm --no-deps -T --entrypoint cat client /secrets/admin-token | tr -d '\r\n')
[[ "$TOKEN" =~ ^cdn_[A-Za-z0-9_-]{43}$ ]] || fail "the admin token on the secrets volume is '$TOKEN'"
dc logs --no-color secrets > "$W/secrets.log" 2>&1
grep -qF "$TOKEN" "$W/secrets.log" || fail "the secrets service did not show the admin token it made"
ok "secrets: admin token made and shown once"

# --- the client's demo -------------------------------------------------------
phase demo
dc run --rm -T client demo > "$W/demo.log" 2>&1 || { cat "$W/demo.log" >&2; fail "cdn demo exited non-zero"; }
ok "cdn demo exited 0"

# --- the API through curl ----------------------------------------------------
phase api
echo "not allowed" > "$W/anon.txt"
req -X POST --data-binary "@$W/anon.txt" "$DIST/content?filename=anon.txt"; expect 401 "upload without a token"
[[ "$(header WWW-Authenticate)" == Bearer* ]] || fail "401 without WWW-Authenticate: Bearer"
req -X POST -H 'Authorization: Bearer cdn_wrong' --data-binary "@$W/anon.txt" "$DIST/content?filename=anon.txt"
expect 401 "upload with a wrong token"
req "$DIST/metrics"; expect 401 "/metrics without a token"
ok "writes and /metrics without a token: 401"
for port in 8001 8002 8003; do
  req "http://localhost:$port/blobs"; expect 401 "node $port inventory without the secret"
  req -X PUT --data-binary "@$W/anon.txt" "http://localhost:$port/blobs/planted"; expect 401 "node $port PUT without the secret"
  req "http://localhost:$port/stats"; expect 401 "node $port /stats without the secret"
  req "http://localhost:$port/healthz"; expect 200 "node $port /healthz"
done
ok "node ports: everything but /healthz needs the secret (401)"
head -c 3000000 /dev/urandom > "$W/one.bin"
expected=$(pick); [[ -n $expected && $expected != null ]] || fail "no placement candidate in /nodes"
cp "$W/nodes.json" "$W/nodes-before.json"
upload "$W/one.bin" one.bin
after=$(pick "$W/nodes-before.json")
ID=$(jq -r .id "$W/one.bin.json")
placed=$(jq -r '[.replicas[].node] | sort | join(",")' "$W/one.bin.json")
[ "$(jq -r .sha256 "$W/one.bin.json")" = "$(sha256sum < "$W/one.bin" | cut -d' ' -f1)" ] || fail "sha256 in Content is wrong"
[ "$(jq -r .size "$W/one.bin.json")" = 3000000 ] || fail "size in Content is wrong"
ok "upload: 201, id $ID, sha256 and size right"
# Memory moves between polls, so accept the pick by the memory just before or
# just after the upload (the distributor decided in between), with the
# storage from before it.
[ "$placed" = "$expected" ] || [ "$placed" = "$after" ] ||
  fail "placement: copies on $placed, rule picks $expected (before) / $after (after): $(cat "$W/nodes.json")"
ok "placement: two copies, on $placed as the rule picks"

req "$DIST/content/$ID/data"; expect 200 "GET data"
same "$W/one.bin" "$W/body" "GET data"
ETAG=$(header ETag); [ -n "$ETAG" ] || fail "GET data: no ETag"
ok "GET data: same bytes, ETag $ETAG"

req -H 'Range: bytes=1000-1999' "$DIST/content/$ID/data"; expect 206 "Range request"
dd if="$W/one.bin" of="$W/range.want" bs=1000 skip=1 count=1 status=none
same "$W/range.want" "$W/body" "Range request"
header Content-Range | grep -q '^bytes 1000-1999/3000000$' || fail "Range: Content-Range is '$(header Content-Range)'"
ok "Range: 206, right bytes and Content-Range"

req -H "If-None-Match: $ETAG" "$DIST/content/$ID/data"; expect 304 "If-None-Match"
ok "If-None-Match: 304"

req -I "$DIST/content/$ID/data"; expect 200 "HEAD data"
[ "$(header Content-Length)" = 3000000 ] || fail "HEAD: Content-Length is '$(header Content-Length)'"
ok "HEAD: Content-Length 3000000"

req "$DIST/content/$ID/data?redirect=1"; expect 307 "?redirect=1"
LOC=$(header Location)
[[ "$LOC" =~ ^http://localhost:800[123]/blobs/[^?]+\?.*signature= ]] || fail "?redirect=1: Location '$LOC' is not a signed node URL"
req "$LOC"; expect 200 "GET $LOC"
same "$W/one.bin" "$W/body" "redirect target"
[ "$(header X-Content-Type-Options)" = nosniff ] || fail "signed node read without nosniff"
header Content-Disposition | grep -q 'filename="one.bin"' || fail "signed node read: Content-Disposition '$(header Content-Disposition)'"
ok "redirect: 307 to a signed node URL, same bytes and the object's headers there"
req "${LOC%%\?*}"; expect 401 "the node URL without its signature"
req "${LOC/signature=/signature=00}"; expect 403 "the node URL with an altered signature"
ok "node URL without or with an altered signature: 401 / 403"

req "$DIST/stats"; expect 200 "GET /stats"
jq -e '(.nodes | length) == 3 and all(.nodes[]; .status == "up") and .totals.objects >= 1' "$W/body" >/dev/null ||
  fail "/stats: $(cat "$W/body")"
all_up || fail "/nodes does not show three nodes up: $(cat "$W/nodes.json")"
ok "/stats and /nodes: three nodes up"

# --- the dashboard -------------------------------------------------------------
phase s3
# The README's S3 example: a key made by `cdn key create`, then aws-cli on
# the published S3 port, bytes back as sent; anonymous requests refused.
dc run --rm -T client key create --name e2e --json > "$W/key.json" 2>"$W/key.err" ||
  { cat "$W/key.err" >&2; fail "cdn key create"; }
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=$(jq -r .access_key_id "$W/key.json")
AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key "$W/key.json")
export AWS_CONFIG_FILE="$W/aws-config" AWS_SHARED_CREDENTIALS_FILE="$W/aws-credentials"
s3() { timeout 60 aws --endpoint-url http://localhost:9000 s3 "$@"; }
s3 mb s3://e2e-photos > "$W/s3.log" 2>&1 || { cat "$W/s3.log" >&2; fail "aws s3 mb"; }
s3 cp "$W/one.bin" s3://e2e-photos/dir/one.bin > "$W/s3.log" 2>&1 || { cat "$W/s3.log" >&2; fail "aws s3 cp up"; }
s3 ls s3://e2e-photos/dir/ > "$W/s3-ls.log" 2>&1 || { cat "$W/s3-ls.log" >&2; fail "aws s3 ls"; }
grep -q " 3000000 one.bin" "$W/s3-ls.log" || fail "aws s3 ls does not list one.bin: $(cat "$W/s3-ls.log")"
s3 cp s3://e2e-photos/dir/one.bin "$W/one-s3.bin" > "$W/s3.log" 2>&1 || { cat "$W/s3.log" >&2; fail "aws s3 cp down"; }
same "$W/one.bin" "$W/one-s3.bin" "aws s3 cp down"
req "http://localhost:9000/e2e-photos/dir/one.bin"; expect 403 "anonymous GET from a private bucket"
# Made public, the bucket is read without a key, by its virtual host too
# (curl takes names under localhost to be the loopback address).
timeout 60 aws --endpoint-url http://localhost:9000 s3api put-bucket-acl --bucket e2e-photos --acl public-read \
  > "$W/s3.log" 2>&1 || { cat "$W/s3.log" >&2; fail "aws s3api put-bucket-acl"; }
req "http://e2e-photos.localhost:9000/dir/one.bin"; expect 200 "anonymous virtual-hosted GET from a public bucket"
same "$W/one.bin" "$W/body" "anonymous virtual-hosted GET"
ok "s3: key made by cdn key create; aws s3 mb, cp up, ls, cp down on :9000; anonymous GET 403, then 200 by virtual host once public"

phase dashboard
req "$DIST/"; expect 200 "GET / (the dashboard)"
header content-type | grep -q '^text/html' || fail "GET / is $(header content-type), not HTML"
header content-security-policy | grep -qF "script-src 'self'" || fail "GET / lacks its Content-Security-Policy"
grep -qF 'Mini CDN' "$W/body" || fail "GET / is not the dashboard: $(head -c 300 "$W/body")"
echo "uploaded by a form" > "$W/form.txt"
# What a browser without JavaScript sends: the token field first, then the files.
req -H 'Accept: text/html' -F "token=$TOKEN" -F "file=@$W/form.txt" -F "file=@$W/anon.txt" "$DIST/content"
expect 303 "a browser form upload of two files"
FORM_PAGE=$(header location)
[[ "$FORM_PAGE" == /ui/uploads\?ids=* ]] || fail "the form upload was sent to '$FORM_PAGE'"
req "$DIST$FORM_PAGE"; expect 200 "the page of the form's uploads"
grep -qF "Uploaded 2 files" "$W/body" || fail "the uploads page: $(head -c 400 "$W/body")"
ok "dashboard: / served with its CSP; a form upload of two files lands on its page (303)"

# --- data survives down/up (named volumes) ------------------------------------
phase restart
dc down -t 10 >/dev/null 2>&1 || fail "docker compose down"
dc up -d --wait --wait-timeout 180 || fail "docker compose up --wait after down"
until_ok 30 "three nodes up after restart" all_up
dc logs --no-color secrets > "$W/secrets.log" 2>&1
if grep -qF "$TOKEN" "$W/secrets.log"; then fail "the admin token was shown again after a restart"; fi
req -X POST -H "Authorization: Bearer $TOKEN" --data-binary "@$W/anon.txt" "$DIST/content?filename=kept.txt"
expect 201 "upload with the same admin token after down/up"
req "$DIST/content/$ID"; expect 200 "metadata after down/up"
req "$DIST/content/$ID/data"; expect 200 "data after down/up"
same "$W/one.bin" "$W/body" "data after down/up"
ok "down/up: content still there, same bytes"

# --- a stopped node gets no new writes ---------------------------------------
phase node-down
stopped_at=$SECONDS
dc stop node2 >/dev/null 2>&1 || fail "docker compose stop node2"
until_ok 30 "node2 down in /nodes" node_is node2 down
ok "node2 stopped and reported down within $((SECONDS - stopped_at)) s"
head -c 500000 /dev/urandom > "$W/two.bin"
upload "$W/two.bin" two.bin
jq -e 'all(.replicas[]; .node != "node2")' "$W/two.bin.json" >/dev/null ||
  fail "upload with node2 down placed a copy on node2: $(cat "$W/two.bin.json")"
req "$DIST/content/$(jq -r .id "$W/two.bin.json")/data"; expect 200 "GET second upload"
same "$W/two.bin" "$W/body" "second upload"
ok "upload with node2 down: on $(jq -r '[.replicas[].node] | join(",")' "$W/two.bin.json"), same bytes back"
# Every object has a second copy, so what node2 held is still served.
req "$DIST/content/$ID/data"; expect 200 "GET first upload with node2 down"
same "$W/one.bin" "$W/body" "first upload with node2 down"
ok "first upload still served with node2 down"
