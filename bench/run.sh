#!/usr/bin/env bash
# Klar's HTTP benchmarks (release build, loopback only). Needs wrk (apt-get install wrk).
#   bench/run.sh [PERSONS]      default 100000
# Measures: start-up until /healthz answers, GET /api/v1/persons/{id} throughput at 32
# connections, and latency of search by name prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
PERSONS=${1:-100000}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 2; }
cargo build --release -q
BIN=target/release/klar
# BENCH_DATA=DIR keeps the seeded data dir between runs (seeding 100,000 persons takes a while).
DATA=${BENCH_DATA:-$(mktemp -d /tmp/klar-bench.XXXXXX)}
mkdir -p "$DATA"
export KLAR_DATA_DIR=$DATA KLAR_ADDR=127.0.0.1:$PORT KLAR_LOG=warn
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; [ -n "${BENCH_DATA:-}" ] || rm -rf "$DATA"' EXIT

if [ ! -f "$DATA/klar.db" ]; then
  echo "== seeding $PERSONS persons"
  START=$(date +%s%N)
  $BIN seed --persons "$PERSONS"
  echo "seeded in $(( ($(date +%s%N) - START) / 1000000 )) ms"
  printf 'Bench-Password-123\n' | $BIN user add --email bench@staff.example --role sales --password-stdin >/dev/null
fi
TOKEN=$($BIN token create --user bench@staff.example)

echo "== start-up"
START=$(date +%s%N)
$BIN serve >"$DATA/serve.log" 2>&1 &
SERVER=$!
until curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.005; done
END=$(date +%s%N)
echo "ready after $(( (END - START) / 1000000 )) ms (database with $PERSONS persons)"

echo "== collecting ids"
IDS=$DATA/ids.txt
CURSOR=""
: >"$IDS"
for _ in $(seq 1 10); do
  PAGE=$(curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/persons?limit=200${CURSOR:+&cursor=$CURSOR}")
  echo "$PAGE" | python3 -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)["items"]]' >>"$IDS"
  CURSOR=$(echo "$PAGE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"] or "")')
  [ -n "$CURSOR" ] || break
done
echo "$(wc -l <"$IDS") ids"

cat >"$DATA/get.lua" <<LUA
local ids = {}
for line in io.lines("$IDS") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/persons/" .. ids[(i % #ids) + 1], { ["Authorization"] = "Bearer $TOKEN" })
end
LUA
cat >"$DATA/search.lua" <<LUA
local q = { "mu", "m%C3%BCl", "schm", "wei", "j%C3%BC", "ann", "bec", "hof", "kl", "sch", "%C3%B6z", "fisch", "wag", "kr", "ber", "erika%20m" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/persons?limit=20&q=" .. q[(i % #q) + 1], { ["Authorization"] = "Bearer $TOKEN" })
end
LUA

echo "== GET /api/v1/persons/{id}, 32 connections, 2 threads, 20 s"
wrk -t2 -c32 -d20s --latency -s "$DATA/get.lua" "http://127.0.0.1:$PORT" | sed -n '1,20p'
echo "== GET /api/v1/persons?q=PREFIX (search-as-you-type), 4 connections, 20 s"
wrk -t2 -c4 -d20s --latency -s "$DATA/search.lua" "http://127.0.0.1:$PORT" | sed -n '1,20p'
ls -la "$DATA" | grep klar.db
