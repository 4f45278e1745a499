#!/usr/bin/env bash
# Start the whole nivel0 stack in the foreground; Ctrl-C (or any process dying) stops all of it.
# Ports come from the environment, with the defaults documented in the README.
# `scripts/run_all.sh action-server` and `scripts/run_all.sh rasa-server` start only that server,
# in the foreground, with the same command, directory and environment as in the stack (the
# end-to-end tests start them so).
# Every process listens on NIVEL0_BIND only (default 127.0.0.1: put a reverse proxy in front to
# serve others), and Rasa's REST channel accepts cross-origin calls from the site's origins only
# (NIVEL0_SITE_ORIGINS, space-separated; default the local website on HELP_CENTER_PORT); a chat
# request over NIVEL0_MAX_CHAT_BYTES (default 16384) is refused with 413 before NLU.
# One line "nivel0 ready: chat at ..." says when the first customer's reply will be fast: the
# action server has its knowledge base loaded and Rasa has answered a warm-up message
# (NIVEL0_READY_TIMEOUT seconds at most, default 900: a first index build takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RASA_PORT:=5005}" "${ACTION_SERVER_PORT:=5055}" "${HANDOFF_PORT:=8000}" "${HELP_CENTER_PORT:=8080}"
: "${NIVEL0_BIND:=127.0.0.1}"
: "${NIVEL0_SITE_ORIGINS:=http://localhost:${HELP_CENTER_PORT} http://127.0.0.1:${HELP_CENTER_PORT}}"
export HANDOFF_PORT HELP_CENTER_PORT
export HANDOFF_HOST="${HANDOFF_HOST:-$NIVEL0_BIND}" HELP_CENTER_HOST="${HELP_CENTER_HOST:-$NIVEL0_BIND}"
export RASA_TELEMETRY_ENABLED="${RASA_TELEMETRY_ENABLED:-false}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://localhost:${ACTION_SERVER_PORT}/webhook}"
export HANDOFF_SERVICE_URL="${HANDOFF_SERVICE_URL:-http://localhost:${HANDOFF_PORT}}"
ROOT="$PWD"

# The action server runs from bot/ with the project root on PYTHONPATH (it imports knowledge/);
# its settings resolve relative paths against the project root, not bot/. It exits at once if a
# setting is invalid or the configured model is missing, and loads the model and the index in the
# background as it starts; its /health answers 503 until they are loaded.
action_server() {
    cd "$ROOT/bot"
    SANIC_HOST="$NIVEL0_BIND" PYTHONPATH="$ROOT" exec "$ROOT/.venv/bin/python" -m rasa_sdk \
        --actions actions --port "$ACTION_SERVER_PORT"
}
# Rasa: the REST channel only, with personal data redacted before Rasa stores it
# (bot/credentials.yml, bot/redacting_channel.py), CORS for the site's origins only. The tests
# point RASA_MODEL and RASA_ENDPOINTS elsewhere and set RASA_ENABLE_API=true (Rasa's HTTP API,
# which can rewrite conversations: never enable it where anyone else can reach the server).
rasa_server() {
    cd "$ROOT/bot"
    local origins
    read -ra origins <<< "$NIVEL0_SITE_ORIGINS"
    # Sanic (Rasa's web server) refuses larger request bodies with 413 before NLU sees them.
    # The project root is on PYTHONPATH for the chat channel's redaction (handoff_service).
    PYTHONPATH="$ROOT" SANIC_REQUEST_MAX_SIZE="${NIVEL0_MAX_CHAT_BYTES:-16384}" \
        exec "$ROOT/.venv-rasa/bin/rasa" run -m "${RASA_MODEL:-models/nivel0.tar.gz}" \
            -i "$NIVEL0_BIND" --port "$RASA_PORT" --cors "${origins[@]}" \
            --endpoints "${RASA_ENDPOINTS:-endpoints.yml}" --credentials credentials.yml \
            ${RASA_ENABLE_API:+--enable-api}
}
case "${1:-}" in
    action-server) action_server ;;
    rasa-server) rasa_server ;;
esac

# First start on a laptop: the bot's service token and an admin token for the agent console are
# created once and kept in var/secrets/ (git-ignored, mode 600). In production set
# HANDOFF_SERVICE_TOKEN yourself and create agents with `python -m handoff_service.cli`.
SECRETS="$ROOT/var/secrets"
mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
if [ -z "${HANDOFF_SERVICE_TOKEN:-}" ]; then
    if [ ! -s "$SECRETS/bot-service-token" ]; then
        (umask 077; "$ROOT/.venv/bin/python" -m handoff_service.cli create-token rasa-bot --role service \
            > "$SECRETS/bot-service-token")
    fi
    HANDOFF_SERVICE_TOKEN="$(cat "$SECRETS/bot-service-token")"
fi
if [ ! -s "$SECRETS/admin-token" ]; then
    (umask 077; "$ROOT/.venv/bin/python" -m handoff_service.cli create-token admin --role admin \
        > "$SECRETS/admin-token")
fi
export HANDOFF_SERVICE_TOKEN
# The secret Rasa sends with every action call; the action server refuses calls without it.
if [ -z "${NIVEL0_ACTION_SECRET:-}" ]; then
    if [ ! -s "$SECRETS/action-secret" ]; then
        (umask 077; "$ROOT/.venv/bin/python" -c "import secrets; print(secrets.token_urlsafe(32))" \
            > "$SECRETS/action-secret")
    fi
    NIVEL0_ACTION_SECRET="$(cat "$SECRETS/action-secret")"
fi
export NIVEL0_ACTION_SECRET
# A customer's erasure in the handoff service also empties their rows from this outbox.
export HANDOFF_ACTION_SECRET="${HANDOFF_ACTION_SECRET:-$NIVEL0_ACTION_SECRET}"
export HANDOFF_ACTION_SERVER_URLS="${HANDOFF_ACTION_SERVER_URLS:-http://localhost:${ACTION_SERVER_PORT}}"
echo "agent console   -> http://localhost:${HANDOFF_PORT}/console  (admin token: var/secrets/admin-token)"

trap 'trap - EXIT INT TERM; kill 0 2>/dev/null; wait' EXIT INT TERM

# First, so that no e-mail of the service finds the SMTP port closed: the laptop's catch-all
# (HANDOFF_SMTP_HOST:HANDOFF_SMTP_PORT, default 127.0.0.1:1025) keeps every e-mail, delivers none.
echo "e-mail catch-all -> http://localhost:${HANDOFF_MAIL_CATCHER_PORT:-8025}/  (every e-mail the product sends)"
"$ROOT/.venv/bin/python" -m handoff_service.mail.catcher &

echo "handoff service -> http://localhost:${HANDOFF_PORT}/docs"
"$ROOT/.venv/bin/python" -m handoff_service.cli serve &

echo "website + help  -> http://localhost:${HELP_CENTER_PORT}/  (help centre: /help/es, /help/en)"
"$ROOT/.venv/bin/python" -m help_center &

echo "action server   -> http://localhost:${ACTION_SERVER_PORT}/health"
(action_server) &

echo "rasa server     -> http://localhost:${RASA_PORT}/webhooks/rest/webhook"
(rasa_server) &

# Ready = the action server's /health answers 200 (its knowledge base is loaded) and Rasa
# answers a warm-up question through its REST channel (its first prediction is the slow one).
announce_ready() {
    local deadline=$((SECONDS + ${NIVEL0_READY_TIMEOUT:-900}))
    local webhook="http://localhost:${RASA_PORT}/webhooks/rest/webhook"
    local question
    until curl -sf -o /dev/null "http://localhost:${ACTION_SERVER_PORT}/health"; do
        if ((SECONDS >= deadline)); then
            echo "nivel0 not ready: the action server's knowledge base is not loaded" >&2
            return 1
        fi
        sleep 1
    done
    for question in "how long does a refund take?" "¿cuánto tarda el envío?"; do
        until curl -sf -o /dev/null -H "Content-Type: application/json" \
            -d "{\"sender\": \"nivel0-warm-up-$$\", \"message\": \"$question\"}" "$webhook"; do
            if ((SECONDS >= deadline)); then
                echo "nivel0 not ready: the Rasa server does not answer on $webhook" >&2
                return 1
            fi
            sleep 1
        done
    done
    echo "nivel0 ready: chat at http://localhost:${HELP_CENTER_PORT}/ (REST channel: $webhook)"
}
announce_ready &
ANNOUNCER=$!

# Any server exiting stops the stack; the announcer finishing (ready or not) does not.
while true; do
    EXITED=""
    wait -n -p EXITED || true
    [ "$EXITED" = "$ANNOUNCER" ] || break
done
echo "a process exited; stopping the stack" >&2
exit 1
