#!/usr/bin/env bash
# Campaign benchmarks (release build, loopback only):
#   bench/campaigns.sh [PERSONS] [CONSENTED]     defaults 100000 and 20000
# Seeds PERSONS persons, gives CONSENTED of them a confirmed newsletter consent (written
# straight into the ledger, as a double opt-in leaves it), and measures
#   1. POST /api/v1/campaigns/{id}/preview over all persons (the gate for each), 5 runs;
#   2. the outbox: sending to the CONSENTED persons through a loopback SMTP sink
#      (bench/smtp_sink.py), mails per second from the first to the last mail.
set -euo pipefail
cd "$(dirname "$0")/.."
PERSONS=${1:-100000}
CONSENTED=${2:-20000}
PORT=${PORT:-18081}
SMTP_PORT=${SMTP_PORT:-12525}
cargo build --release -q
BIN=$PWD/target/release/klar
DATA=${BENCH_DATA:-$(mktemp -d /tmp/klar-bench-campaigns.XXXXXX)}
mkdir -p "$DATA"
export KLAR_DATA_DIR=$DATA KLAR_ADDR=127.0.0.1:$PORT KLAR_LOG=${KLAR_LOG:-warn}
SERVER=""; SINK=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; [ -n "$SINK" ] && kill $SINK 2>/dev/null; [ -n "${BENCH_DATA:-}" ] || rm -rf "$DATA"' EXIT

if [ ! -f "$DATA/klar.db" ]; then
  echo "== seeding $PERSONS persons"
  $BIN seed --persons "$PERSONS"
  for u in "werbung@staff.example marketing" "dsb@staff.example privacy_officer"; do
    set -- $u
    printf 'Bench-Password-123\n' | $BIN user add --email "$1" --role "$2" --password-stdin >/dev/null
  done
  echo "== $CONSENTED confirmed newsletter consents"
  python3 - "$DATA/klar.db" "$CONSENTED" <<'PY'
import sqlite3, sys, time, uuid
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
ids = [r[0] for r in c.execute("SELECT id FROM persons WHERE id IN (SELECT person_id FROM person_lookup WHERE kind = 'email') ORDER BY id LIMIT ?", (n,))]
now = int(time.time() * 1000)
rows = []
for pid in ids:
    for kind in ("grant", "confirm"):
        rows.append((uuid.uuid4().hex, pid, "newsletter", 1, "email", kind, "person", "newsletter-de-1", None, None, now))
c.executemany("INSERT INTO consent_events (id, person_id, purpose, purpose_version, channel, kind, source, wording_version, evidence, actor, at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
c.commit()
print(len(ids), "persons consented")
PY
fi
MKT=$($BIN token create --user werbung@staff.example)
DPO=$($BIN token create --user dsb@staff.example)
python3 bench/smtp_sink.py "$SMTP_PORT" "$DATA/sink.txt" & SINK=$!
$BIN serve --smtp-url "smtp://127.0.0.1:$SMTP_PORT" --mail-rate 5000 --backup-interval-hours 0 >"$DATA/serve.log" 2>&1 & SERVER=$!
until curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.01; done
API=http://127.0.0.1:$PORT/api/v1
j() { curl -fs -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }
j "$DPO" -X PUT "$API/settings/installation" -d '{"controller":{"name":"Bench GmbH","address":"Hauptstr. 1\n10115 Berlin","email":"info@bench.example","phone":""},"dpo":{"name":"","email":""},"imprint":"HRB 1","measures_text":""}' >/dev/null
j "$DPO" -X POST "$API/processors" -d '{"name":"Versand GmbH","role":"processor","contract_signed_at":"2026-01-01","purposes":["newsletter"],"data_categories":["contact"],"country":"DE","services":["email_delivery"]}' >/dev/null
ID=$(j "$MKT" -X POST "$API/campaigns" -d '{"name":"Bench","purpose":"newsletter","subject":"Hallo {{first_name}}","body":"Guten Tag {{full_name}},\n\nNeues unter https://bench.example/neu.","segment":{"all":true}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "== preview over all $PERSONS persons"
for i in 1 2 3 4 5; do
  curl -fs -o "$DATA/preview.json" -w "preview %{time_total} s\n" -H "Authorization: Bearer $MKT" -X POST "$API/campaigns/$ID/preview"
done
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print("segment", p["segment_size"], "eligible", p["eligible"], "excluded", p["excluded"])' "$DATA/preview.json"

echo "== outbox: send to the eligible persons"
START=$(date +%s.%N)
j "$MKT" -X POST "$API/campaigns/$ID/send" >/dev/null
QUEUED=$(date +%s.%N)
while :; do
  R=$(j "$MKT" "$API/campaigns/$ID/report")
  if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["queued"]==0 and r["sending"]==0 else 1)' "$R"; then break; fi
  sleep 0.5
done
sleep 1
END=$(date +%s.%N)
echo "report: $R"
read N FIRST LAST <"$DATA/sink.txt"
python3 -c "import sys; n,f,l,s,q,e=map(float,sys.argv[1:]); print(f'send call (gate over all persons, queueing): {q-s:.2f} s'); print(f'{int(n)} mails at the sink; {n/(l-f):.0f} mails/s from first to last; whole run {e-s:.1f} s')" "$N" "$FIRST" "$LAST" "$START" "$QUEUED" "$END"
