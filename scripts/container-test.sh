#!/usr/bin/env bash
# The container test (docs/docker.md, `make container-test`; not part of `make test`).
#
# Builds the image with podman from local base images (made with debootstrap from the
# Debian mirror and the host's Rust toolchain, tagged with the names of the Dockerfile's
# FROM lines, since no image registry is reachable), starts compose.yaml with
# podman-compose in a scratch folder with no config, and checks as a user would:
#   - the recorder and the sink both come up from no config (starter configs written);
#   - /healthz answers on the published port, the API refuses a request without the
#     token (401) and answers with it (200), /metrics shows the engine's metrics;
#   - the image's HEALTHCHECK passes; streamlink and yt-dlp run;
#   - the folders compose created, the starter configs and a demo's recordings belong
#     to PUID:PGID on the host (a PUID and a PGID other than the image's 1000);
#   - `oneliverec parse URL` works with no config; `oneliverec demo` records inside;
#   - the recorder reaches the sink over the compose network and a listener on the host;
#   - `compose down` stops both within the grace period;
#   - a one-line documentation change rebuilds with the dependency layer reused.
# Prints the image size, the binaries' sizes and the build times.
#
# Everything podman stores (base images, layers, the image) lives in a storage of its
# own under $STATE, removed at the end: the system's podman storage is not touched.
#
# Environment:
#   KEEP=1          keep $STATE (base images and the layer cache, several GB) for a
#                   faster next run; `rm -rf $STATE` removes it
#   WARM=0          skip the warm rebuild
#   STATE           (/var/tmp/onelive-container-test)
#   HOST_PORT       the host port the recorder's API is published on (18686)
#   DEBIAN_MIRROR   (http://deb.debian.org/debian)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE=bookworm
STATE="${STATE:-/var/tmp/onelive-container-test}"
HOST_PORT="${HOST_PORT:-18686}"
IMAGE=localhost/onelive:latest
PROJECT=onelive-ct
T_PUID=1500
T_PGID=1600
say() { printf '\n== %s\n' "$*"; }
fail() { printf 'container-test: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap and rootful podman)"

# ---- tools ----
need=()
for tool in podman buildah debootstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
command -v podman-compose >/dev/null || need+=(podman-compose)
if [ "${#need[@]}" -gt 0 ]; then
    say "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in podman buildah debootstrap runc podman-compose curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing"
done

# The FROM names, read from the Dockerfile's ARG defaults.
rust_image="$(sed -n 's/^ARG RUST_IMAGE=//p' "$here/Dockerfile")"
runtime_image="$(sed -n 's/^ARG RUNTIME_IMAGE=//p' "$here/Dockerfile")"
[ -n "$rust_image" ] && [ -n "$runtime_image" ] || fail "no RUST_IMAGE/RUNTIME_IMAGE ARG in the Dockerfile"

mkdir -p "$STATE"
disk() { df -h --output=avail,pcent "$STATE" | tail -n 1 | awk '{print $1 " free (" $2 " used)"}'; }
echo "disk before: $(disk)"
work="$(mktemp -d "$STATE/run.XXXXXX")"
cleanup() {
    set +e
    if [ -f "$work/run/compose.yaml" ]; then
        (cd "$work/run" && podman-compose -p "$PROJECT" down -t 30 >/dev/null 2>&1)
        podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
    fi
    [ -n "${host_pid:-}" ] && kill "$host_pid" 2>/dev/null
    # Files the containers wrote as PUID:PGID are ours (root) to delete.
    rm -rf "$work"
    if [ -z "${KEEP:-}" ]; then
        podman rm -a -f >/dev/null 2>&1
        podman rmi -a -f >/dev/null 2>&1
        rm -rf "$STATE"
    else
        printf 'kept %s (%s): rm -rf it to free the space\n' "$STATE" "$(du -sh "$STATE" 2>/dev/null | cut -f1)"
    fi
    echo "disk after: $(df -h --output=avail,pcent /var/tmp | tail -n 1 | awk '{print $1 " free (" $2 " used)"}')"
}
trap cleanup EXIT

# podman on this kind of VM: runc, cgroupfs (no systemd), and default ulimits the host
# allows (podman's default nofile and nproc are above this VM's hard limits). Storage of our own.
nofile="$(ulimit -Hn)"
[ "$nofile" = unlimited ] && nofile=1048576
# nproc: at most what conmon runs with (podman gives it 32768 here, whatever the host allows).
nproc="$(ulimit -Hu)"
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
cat >"$STATE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$STATE/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/runroot"
CONF
export CONTAINERS_CONF="$STATE/containers.conf" CONTAINERS_STORAGE_CONF="$STATE/storage.conf"

# ---- base images ----
if podman image exists "$runtime_image" && podman image exists "$rust_image"; then
    say "base images $runtime_image and $rust_image: kept from an earlier run (KEEP=1)"
    base_s=0
else
    start=$(date +%s)
    say "debootstrap $SUITE from $MIRROR -> $runtime_image"
    debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" \
        >"$work/rootfs/etc/apt/sources.list"
    # What the official slim image configures: apt keeps no downloaded packages or
    # caches, dpkg installs no docs, man pages or translations.
    cat >"$work/rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT
    mkdir -p "$work/rootfs/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
        >"$work/rootfs/etc/dpkg/dpkg.cfg.d/docker"
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
        "$work/rootfs/usr/share/doc/"* "$work/rootfs/usr/share/man/"*
    # This VM reaches the mirrors through a TLS-inspecting proxy: the CAs the host added
    # locally (/usr/local/share/ca-certificates) are trusted in these local base images,
    # so that cargo (crates.io) and pip (PyPI) inside the build work. They are not in
    # the Dockerfile; an image built on a normal machine trusts only Debian's CAs.
    mkdir -p "$work/rootfs/usr/local/share/ca-certificates"
    for crt in /usr/local/share/ca-certificates/*.crt; do
        [ -f "$crt" ] && cp "$crt" "$work/rootfs/usr/local/share/ca-certificates/"
    done
    tar -C "$work/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$runtime_image" >/dev/null
    rm -rf "$work/rootfs"

    say "the host's Rust toolchain ($(rustc --version)) -> $rust_image"
    mkdir -p "$work/rust-ctx/toolchain"
    sysroot="$(rustc --print sysroot)"
    # rustc, cargo and the host target's std (no docs: 800 MB).
    tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$work/rust-ctx/toolchain" -x
    # What rust:*-slim has: gcc and libc6-dev (the linker), ca-certificates, CARGO_HOME.
    cat >"$work/rust-ctx/Containerfile" <<CF
FROM $runtime_image
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CF
    podman build --network=host -q -t "$rust_image" "$work/rust-ctx" >"$work/rust-image.log" 2>&1 \
        || { tail -20 "$work/rust-image.log"; fail "the Rust base image"; }
    rm -rf "$work/rust-ctx"
    base_s=$(( $(date +%s) - start ))
fi

# ---- the image, cold ----
# --format docker: the OCI format (podman's default) has no HEALTHCHECK and drops it.
# The build context: the working tree's files (tracked and new, not ignored), copied so
# that the warm build below can change one of them.
mkdir -p "$work/ctx"
git -C "$here" ls-files -z --cached --others --exclude-standard \
    | (cd "$here" && tar --null -T - -c) | tar -C "$work/ctx" -x
say "podman build $IMAGE"
start=$(date +%s)
podman build --format docker --network=host -t "$IMAGE" "$work/ctx" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "podman build (log above)"; }
cold_s=$(( $(date +%s) - start ))
cold_what=cold
[ "$base_s" = 0 ] && cold_what="layers cached by an earlier KEEP=1 run"
cp "$work/build.log" "$STATE/last-build.log"
size="$(podman image inspect "$IMAGE" --format '{{.Size}}')"
bins="$(podman run --rm --entrypoint stat "$IMAGE" -c '%n %s' /usr/local/bin/oneliverec /usr/local/bin/onelive-sink)"
echo "built in $cold_s s ($cold_what); $(( size / 1000000 )) MB; log: $STATE/last-build.log"

# ---- what the image holds ----
say "tools in the image"
podman run --rm "$IMAGE" streamlink --version || fail "streamlink in the image"
podman run --rm "$IMAGE" yt-dlp --version || fail "yt-dlp in the image"
ffmpeg_version="$(podman run --rm "$IMAGE" ffmpeg -hide_banner -version)" || fail "ffmpeg in the image"
echo "${ffmpeg_version%%$'\n'*}"
podman run --rm "$IMAGE" parse https://live.bilibili.com/21452505 || fail "oneliverec parse without a config"
leaked="$(podman run --rm --entrypoint sh "$IMAGE" -c \
    'find / -xdev \( -name "*.sqlite" -o -name "oneliverec.toml" -o -name "onelive-sink.toml" -o -name .git \) 2>/dev/null')"
[ -z "$leaked" ] || fail "state, configs or VCS data in the image: $leaked"

# ---- compose, from no config, in a scratch folder ----
say "podman-compose up (no config; PUID=$T_PUID PGID=$T_PGID; API on 127.0.0.1:$HOST_PORT)"
mkdir -p "$work/run"
# podman 4.3 has no `host-gateway`; it adds host.containers.internal (the host) itself.
sed -e '/extra_hosts:/,/host-gateway/d' \
    -e "s/PUID: \"1000\"/PUID: \"$T_PUID\"/" -e "s/PGID: \"1000\"/PGID: \"$T_PGID\"/" \
    -e "s/127.0.0.1:8686:8686/127.0.0.1:$HOST_PORT:8686/" \
    "$here/compose.yaml" >"$work/run/compose.yaml"
grep -q "PUID: \"$T_PUID\"" "$work/run/compose.yaml" && grep -q "$HOST_PORT:8686" "$work/run/compose.yaml" \
    || fail "compose.yaml has no PUID \"1000\" or no 127.0.0.1:8686:8686 to rewrite"
cd "$work/run"
podman-compose -p "$PROJECT" up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up"; }

wait_for() { # description, command...
    local what="$1"; shift
    local deadline=$(( $(date +%s) + 180 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { podman-compose -p "$PROJECT" logs 2>&1 | tail -40; fail "$what (waited 180 s)"; }
        sleep 1
    done
}
wait_for "recorder /healthz on the published port" curl -fsS "http://127.0.0.1:$HOST_PORT/healthz"
echo "healthz: $(curl -fsS "http://127.0.0.1:$HOST_PORT/healthz")"

[ -f config/oneliverec.toml ] && [ -f config/onelive-sink.toml ] || fail "no starter configs in config/"
token="$(sed -n 's/^token = "\([0-9a-f]*\)".*/\1/p' config/oneliverec.toml)"
[ -n "$token" ] || fail "no [api] token in the starter config"

code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/api/channels")"
[ "$code" = 401 ] || fail "GET /api/channels without the token answered $code, not 401"
echo "GET /api/channels without the token: $code"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$HOST_PORT/api/channels")"
[ "$code" = 200 ] || fail "GET /api/channels with the token answered $code, not 200"
echo "GET /api/channels with the token: $code"
metrics="$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$HOST_PORT/metrics")" || fail "/metrics"
grep -q '^onelive_polls_total\|^onelive_channels' <<<"$metrics" || fail "/metrics shows no onelive_ metric"
echo "/metrics: $(grep -c '^onelive_' <<<"$metrics") onelive_ samples"

rec="${PROJECT}_oneliverec_1"
sink="${PROJECT}_onelive-sink_1"
podman container exists "$rec" && podman container exists "$sink" \
    || fail "containers $rec / $sink not found: $(podman ps -a --format '{{.Names}} {{.Status}}')"
wait_for "sink /healthz" podman exec "$sink" curl -fsS http://127.0.0.1:5000/healthz
echo "sink healthz: $(podman exec "$sink" curl -fsS http://127.0.0.1:5000/healthz)"
wait_for "the recorder reaches the sink over the compose network" \
    podman exec "$rec" curl -fsS http://onelive-sink:5000/healthz
wait_for "the image's HEALTHCHECK in the recorder" podman healthcheck run "$rec"
echo "HEALTHCHECK (recorder, the image's): healthy"
wait_for "the sink's healthcheck (compose.yaml)" podman healthcheck run "$sink"
echo "healthcheck (sink, compose.yaml's): healthy"
for c in "$rec" "$sink"; do
    restarts="$(podman inspect "$c" --format '{{.RestartCount}}')"
    [ "$restarts" = 0 ] || fail "$c restarted $restarts times"
done

say "oneliverec demo inside the recorder's container, as PUID:PGID"
podman exec -u "$T_PUID:$T_PGID" "$rec" oneliverec demo --output /app/rec/demo --live-for 8s >"$work/demo.log" 2>&1 \
    || { tail -30 "$work/demo.log"; fail "oneliverec demo inside the container"; }
tail -n 5 "$work/demo.log"
media="$(find rec/demo -type f \( -name '*.mp4' -o -name '*.flv' -o -name '*.ts' -o -name '*.mkv' -o -name '*.m4s' \) -size +10k | wc -l)"
[ "$media" -ge 1 ] || fail "the demo left no recording in rec/demo on the host"
echo "demo recordings on the host: $media"

say "host file ownership"
for d in rec data config sink; do
    owner="$(stat -c '%u:%g' "$d")"
    echo "$d/ $owner"
    [ "$owner" = "$T_PUID:$T_PGID" ] || fail "$d/ is $owner on the host, not $T_PUID:$T_PGID"
done
for f in config/oneliverec.toml config/onelive-sink.toml; do
    mode="$(stat -c '%u:%g %a' "$f")"
    echo "$f $mode"
    [ "$mode" = "$T_PUID:$T_PGID 600" ] || fail "$f is $mode, not $T_PUID:$T_PGID 600"
done
others="$(find rec data config sink \( ! -user "$T_PUID" -o ! -group "$T_PGID" \) -printf '%u:%g %p\n')"
[ -z "$others" ] || fail "files not owned by $T_PUID:$T_PGID: $others"
echo "every file under rec/ data/ config/ sink/: $T_PUID:$T_PGID ($(find rec data config sink | wc -l) entries)"

say "the container reaches the host"
mkdir -p "$work/host-www" && echo host-ok >"$work/host-www/ping"
python3 -m http.server 18787 --bind 0.0.0.0 --directory "$work/host-www" >/dev/null 2>&1 &
host_pid=$!
wait_for "a listener on the host" curl -fsS http://127.0.0.1:18787/ping
got="$(podman exec "$rec" curl -fsS --max-time 10 http://host.containers.internal:18787/ping)" \
    || fail "the container does not reach the host at host.containers.internal"
[ "$got" = host-ok ] || fail "host.containers.internal answered '$got'"
echo "host.containers.internal:18787 -> $got"
kill "$host_pid"; host_pid=""

say "compose down"
start=$(date +%s)
podman-compose -p "$PROJECT" down -t 30 >"$work/down.log" 2>&1 || { cat "$work/down.log"; fail "compose down"; }
down_s=$(( $(date +%s) - start ))
[ -z "$(podman ps -a -q --filter "name=$PROJECT")" ] || fail "containers left after down"
[ "$down_s" -le 70 ] || fail "compose down took $down_s s"
echo "stopped in $down_s s"
cd /

# ---- the image, warm: one line of documentation changed ----
warm_s=skipped
if [ "${WARM:-1}" != 0 ]; then
    say "podman build after a one-line change of README.md (warm)"
    echo "<!-- container-test $(date +%s) -->" >>"$work/ctx/README.md"
    start=$(date +%s)
    podman build --format docker --network=host -t "$IMAGE" "$work/ctx" >"$work/build-warm.log" 2>&1 \
        || { tail -40 "$work/build-warm.log"; fail "warm podman build"; }
    warm_s=$(( $(date +%s) - start ))
    cp "$work/build-warm.log" "$STATE/last-build-warm.log"
    grep -q 'cargo chef cook' "$work/build-warm.log" || fail "no cook step in the warm build log"
    # buildah prints "--> Using cache" after a step it did not run again.
    grep -A1 'cargo chef cook' "$work/build-warm.log" | grep -q 'Using cache' \
        || { grep -A3 'cargo chef cook' "$work/build-warm.log"; fail "the dependency layer was rebuilt after a README change"; }
    echo "rebuilt in $warm_s s; the dependency layer (cargo chef cook) came from the cache"
fi

printf '\ncontainer-test: PASS\n'
printf '  image %s: %s MB\n' "$IMAGE" "$(( size / 1000000 ))"
while read -r name bytes; do printf '  %s: %s MB (%s bytes)\n' "$name" "$(( bytes / 1000000 ))" "$bytes"; done <<<"$bins"
printf '  base images (debootstrap + toolchain): %s s\n' "$base_s"
printf '  build (%s): %s s\n  build, warm (README.md changed): %s s\n' "$cold_what" "$cold_s" "$warm_s"
printf '  compose down: %s s\n' "$down_s"
