#!/usr/bin/env bash
# A curl tour of the business API (/v1). Start the server first (`npm start`); optionally run
# `npx tsx examples/device-simulator.ts --id sim-1` and `npx tsx cli.ts client --name alice` in
# other terminals to watch the pushes arrive.
#
#   ROUTE=http://127.0.0.1:8083 DEVICE=sim-1 examples/push.sh
set -euo pipefail

ROUTE="${ROUTE:-http://127.0.0.1:8083}"
DEVICE="${DEVICE:-sim-1}"
NAME="${NAME:-alice}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
post() { curl -sS -X POST "$ROUTE$1" -H 'content-type: application/json' -d "$2"; echo; }
get()  { curl -sS "$ROUTE$1"; echo; }

step "register a user (idempotent by name): POST /v1/users"
USER_JSON=$(curl -sS -X POST "$ROUTE/v1/users" -H 'content-type: application/json' -d "{\"userName\":\"$NAME\"}")
echo "$USER_JSON"
USER_ID=$(printf '%s' "$USER_JSON" | sed -nE 's/.*"userId":[[:space:]]*([0-9]+).*/\1/p')
[ -n "$USER_ID" ] || { echo "no userId in the answer" >&2; exit 1; }

step "push to the user, at-least-once (queued if offline): POST /v1/push/users/$USER_ID"
post "/v1/push/users/$USER_ID" '{"message":"hello from the backend","qos":1,"ttlSeconds":3600,"properties":{"kind":"greeting"}}'

step "push to several users: POST /v1/push/users"
post "/v1/push/users" "{\"userIds\":[$USER_ID],\"message\":\"batch hello\"}"

step "push to a device over MQTT: POST /v1/push/devices/$DEVICE"
post "/v1/push/devices/$DEVICE" '{"payload":"{\"cmd\":\"led\",\"on\":true}","qos":1}'

step "push binary to a device (base64): POST /v1/push/devices/$DEVICE"
post "/v1/push/devices/$DEVICE" '{"payload":"AQID","encoding":"base64"}'

step "push to every connection (users and devices): POST /v1/push/all"
post "/v1/push/all" '{"message":"maintenance at 22:00"}'

step "publish to any MQTT topic: POST /v1/publish"
post "/v1/publish" '{"topic":"devices/broadcast","payload":"firmware 1.2 available","qos":1}'

step "online users: GET /v1/users/online"
get "/v1/users/online"

step "presence of one user: GET /v1/users/$USER_ID/presence"
get "/v1/users/$USER_ID/presence"

step "online devices: GET /v1/devices/online"
get "/v1/devices/online"

step "broker nodes: GET /v1/nodes"
get "/v1/nodes"

printf '\nOpenAPI: %s/openapi.json   Swagger UI: %s/docs\n' "$ROUTE" "$ROUTE"
