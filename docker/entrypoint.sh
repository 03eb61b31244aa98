#!/usr/bin/env bash
# The container's entrypoint (docs/docker.md): runs under tini as PID 1's child.
#
#   entrypoint.sh run ...              -> oneliverec run ...        (the image's CMD)
#   entrypoint.sh parse URL            -> oneliverec parse URL      (any oneliverec command)
#   entrypoint.sh onelive-sink ...     -> the event sink
#   entrypoint.sh PROGRAM ...          -> any program of the image (bash, streamlink, ...)
#
# Started as root (the default), it
#   1. gives the folders under $ONELIVE_ROOT (rec, data, config, sink) to PUID:PGID
#      (default 1000:1000), changing only the entries that are not theirs;
#   2. for `oneliverec run` and `onelive-sink` (serve) with no config file yet, writes a
#      starter config (mode 0600) with a generated API token and, when both are missing,
#      a recorder webhook to the sink signed with a generated shared secret;
#   3. for `oneliverec run`, waits (instead of exiting and being restarted in a loop)
#      while the config does not pass `oneliverec check-config`, and starts once it does;
#   4. drops to PUID:PGID (setpriv) and execs the program.
# Started as another user (compose `user:`, rootless podman), it skips 1 and drops nothing.
#
# Environment (all optional):
#   PUID, PGID              the user and group that own the files and run the programs (1000)
#   ONELIVE_ROOT            the base folder (/app)
#   ONELIVEREC_API_LISTEN   [api] listen of a starter recorder config (0.0.0.0:8686)
#   ONELIVE_SINK_LISTEN     [server] listen of a starter sink config (0.0.0.0:5000)
#   ONELIVE_SINK_URL        the recorder's webhook to the sink in starter configs
#                           (http://onelive-sink:5000/webhook, the compose service)
#   ONELIVE_WAIT_INTERVAL   seconds between checks while waiting (5)
set -euo pipefail

ROOT="${ONELIVE_ROOT:-/app}"
PUID="${PUID:-1000}"
PGID="${PGID:-1000}"
API_LISTEN="${ONELIVEREC_API_LISTEN:-0.0.0.0:8686}"
SINK_LISTEN="${ONELIVE_SINK_LISTEN:-0.0.0.0:5000}"
SINK_URL="${ONELIVE_SINK_URL:-http://onelive-sink:5000/webhook}"
WAIT="${ONELIVE_WAIT_INTERVAL:-5}"

say() { printf 'onelive-entrypoint: %s\n' "$*" >&2; }

# A TERM/INT while waiting ends the container at once (tini forwards it to us).
trap 'exit 143' TERM
trap 'exit 130' INT
pause() {
    sleep "$WAIT" &
    wait $! || true
}

case "$PUID$PGID" in
    *[!0-9]*) say "PUID and PGID must be numbers (got PUID=$PUID PGID=$PGID)"; exit 64 ;;
esac

# ---- which program, which role ----
if [ "$#" -eq 0 ]; then
    set -- run
fi
case "$1" in
    oneliverec | onelive-sink) ;;
    -*) set -- oneliverec "$@" ;;
    *) if ! command -v -- "$1" >/dev/null 2>&1; then set -- oneliverec "$@"; fi ;;
esac
program="$1"

# The value of -c/--config among the arguments, else $1 (the env default), else $2.
config_arg() {
    local env_default="$1" file_default="$2"
    shift 2
    local found=""
    while [ "$#" -gt 0 ]; do
        case "$1" in
            -c | --config) found="${2:-}"; shift ;;
            --config=*) found="${1#--config=}" ;;
            -c?*) found="${1#-c}" ;;
        esac
        shift
    done
    printf '%s' "${found:-${env_default:-$file_default}}"
}

# The config of `run` and of the sink: -c/--config, else the program's environment
# variable, else $ROOT/config/NAME (then passed with --config, whatever the working folder).
role=other
config=""
if [ "$program" = oneliverec ] && [ "${2:-}" = run ]; then
    role=recorder
    config="$(config_arg "${ONELIVEREC_CONFIG:-}" "" "${@:2}")"
    if [ -z "$config" ]; then
        config="$ROOT/config/oneliverec.toml"
        set -- "$@" --config "$config"
    fi
elif [ "$program" = onelive-sink ]; then
    role=sink
    for arg in "${@:2}"; do
        case "$arg" in check-config | jobs | help | -h | --help | -V | --version) role=other ;; esac
    done
    config="$(config_arg "${ONELIVE_SINK_CONFIG:-}" "" "${@:2}")"
    if [ -z "$config" ] && [ "$role" = sink ]; then
        config="$ROOT/config/onelive-sink.toml"
        set -- "$@" --config "$config"
    fi
fi

# ---- the user the programs run as ----
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    if [ "$PUID" -eq 0 ]; then
        say "PUID=0: running as root (not recommended)"
    else
        as_user=(setpriv --reuid="$PUID" --regid="$PGID" --clear-groups --)
    fi
    export HOME="$ROOT"
fi
uid_now() { if [ "${#as_user[@]}" -gt 0 ]; then echo "$PUID"; else id -u; fi; }

# Only entries that are not PUID:PGID's are changed, so a restart does not touch every recording.
fix_owner() {
    [ "$(id -u)" -eq 0 ] && [ "$PUID" -ne 0 ] || return 0
    find "$1" -xdev \( ! -user "$PUID" -o ! -group "$PGID" \) -exec chown -h "$PUID:$PGID" {} +
}

if [ "$role" != other ]; then
    for dir in rec data config sink; do
        mkdir -p -- "$ROOT/$dir" 2>/dev/null || true
        if [ -d "$ROOT/$dir" ]; then fix_owner "$ROOT/$dir"; fi
    done
    if [ "$(id -u)" -eq 0 ] && [ "$PUID" -ne 0 ]; then chown "$PUID:$PGID" "$ROOT" 2>/dev/null || true; fi
    # Not root, or a host folder root cannot change (NFS, read-only): wait instead of crashing.
    for dir in rec data config sink; do
        [ -d "$ROOT/$dir" ] || continue
        told=""
        until "${as_user[@]}" test -w "$ROOT/$dir"; do
            if [ -z "$told" ]; then
                say "$ROOT/$dir is not writable by uid $(uid_now); on the host: chown -R $(uid_now) <that folder> (or start the container as root with PUID/PGID); waiting"
                told=1
            fi
            pause
        done
    done
fi

# ---- starter configs ----
random_hex() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
random_b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

write_recorder_starter() { # file, sink secret (empty: no webhook)
    cat >"$1" <<EOF
# oneliverec.toml: a starter config, written by the container on its first start
# because there was none. Edit it freely (the recorder writes channels and webhooks
# changed through the web UI/API back to it). Every key, with comments:
# docs/examples/oneliverec.toml; reference: docs/configuration.md.

[output]
folder = "$ROOT/rec"                  # the recordings (./rec on the host)

[state]
dir = "$ROOT/data"                    # outbox, transmux queue, sessions (./data on the host)

[api]
listen = "$API_LISTEN"               # inside the container; compose publishes it
token = "$(random_hex 24)"   # the API/web UI bearer token (generated)

# Add channels here or in the web UI (http://localhost:8686/, with the token above):
# [[channels]]
# url = "https://live.bilibili.com/21452505"
# name = "someone"
EOF
    if [ -n "$2" ]; then
        cat >>"$1" <<EOF

# The event sink beside the recorder (compose service onelive-sink); its config
# onelive-sink.toml in this folder holds the same secret.
[[webhooks]]
id = "onelive-sink"
url = "$SINK_URL"
secret = "$2"
EOF
    fi
}

write_sink_starter() { # file, secret
    cat >"$1" <<EOF
# onelive-sink.toml: a starter config, written by the container on its first start
# because there was none. It accepts the recorder's signed events and, until you add
# a rule, acts on none of them. Reference: docs/sink.md.

[server]
listen = "$SINK_LISTEN"

[auth]
secrets = ["$2"]   # Standard Webhooks secret; the recorder's webhook signs with it

[store]
path = "$ROOT/sink/onelive-sink.db"   # the durable job queue (./sink on the host)

[paths]
allowed_roots = ["$ROOT/rec"]         # the recorder's folder, mounted at the same path

# Upload every transmuxed recording to Pixeldrain (set PIXELDRAIN_API_KEY in compose.yaml):
# [[rules]]
# name = "upload"
# events = ["video_transmux_finish"]
# [[rules.actions]]
# kind = "pixeldrain"
# api_key = { env = "PIXELDRAIN_API_KEY" }
EOF
}

# Writes the missing starter config(s) of $config's folder; under a lock, since the
# recorder and the sink containers may start at the same moment on a shared folder.
write_starters() {
    local dir recorder sink secret="" wrote=()
    dir="$(dirname -- "$config")"
    if [ "$role" = recorder ]; then
        recorder="$config"; sink="$dir/onelive-sink.toml"
    else
        sink="$config"; recorder="$dir/oneliverec.toml"
    fi
    "${as_user[@]}" mkdir -p -- "$dir" 2>/dev/null || true
    exec 9<"$dir"
    flock 9
    if [ ! -e "$recorder" ] && [ ! -e "$sink" ]; then
        secret="whsec_$(random_b64 24)"
    fi
    if [ ! -e "$recorder" ] && { [ "$role" = recorder ] || [ -n "$secret" ]; }; then
        (umask 077; write_recorder_starter "$recorder.tmp" "$secret")
        wrote+=("$recorder")
    fi
    if [ ! -e "$sink" ] && { [ "$role" = sink ] || [ -n "$secret" ]; }; then
        (umask 077; write_sink_starter "$sink.tmp" "${secret:-whsec_$(random_b64 24)}")
        wrote+=("$sink")
    fi
    for file in "${wrote[@]}"; do
        [ "$(id -u)" -eq 0 ] && [ "$PUID" -ne 0 ] && chown "$PUID:$PGID" "$file.tmp"
        mv -f -- "$file.tmp" "$file"
        say "no config at $file: wrote a starter config (generated secrets inside, mode 0600); edit it to add channels or rules"
    done
    exec 9<&-
}

if [ "$role" != other ] && [ ! -e "$config" ]; then
    if ! write_starters || [ ! -e "$config" ]; then
        say "no config at $config and none could be written there; put one there (see docs/docker.md): waiting"
        until [ -e "$config" ]; do pause; done
    fi
fi

# ---- the recorder waits for a config that passes check-config ----
stamp() { stat -c '%Y %s %i' -- "$1" 2>/dev/null || echo none; }
if [ "$role" = recorder ]; then
    while true; do
        seen="$(stamp "$config")"
        if out="$("${as_user[@]}" oneliverec check-config --config "$config" 2>&1)"; then
            break
        fi
        say "the config does not pass check-config: ${out//$'\n'/ }"
        say "fix $config; the recorder starts as soon as it passes (waiting)"
        while [ "$(stamp "$config")" = "$seen" ]; do pause; done
    done
    case "$(grep -E '^[[:space:]]*listen[[:space:]]*=' -- "$config" 2>/dev/null | head -n 1)" in
        *127.0.0.1* | *'[::1]'* | *localhost*)
            say "[api] listen is a loopback address: the published port will not reach the API (use listen = \"0.0.0.0:8686\" and a token)" ;;
    esac
fi

exec "${as_user[@]}" "$@"
