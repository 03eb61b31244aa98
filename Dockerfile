# onelive: the recorder (oneliverec) and the event sink (onelive-sink) in one small
# Debian image with ffmpeg, streamlink and yt-dlp. See docs/docker.md.
#   docker build -t onelive .
#   docker compose up -d          (compose.yaml: the recorder and the sink side by side)

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: dependencies in their own layer (cargo-chef) ----
FROM ${RUST_IMAGE} AS chef
# pkg-config: some -sys crates look for it even when they build their C part themselves.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config \
 && rm -rf /var/lib/apt/lists/* \
 && cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
# The recipe holds only the manifests and Cargo.lock: it changes when dependencies do.
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# This layer (every dependency, compiled) is reused until the recipe changes.
RUN cargo chef cook --profile dist --locked -p oneliverec -p onelive-sink-bin --recipe-path recipe.json
COPY . .
RUN cargo build --profile dist --locked -p oneliverec -p onelive-sink-bin \
 && install -m 0755 target/dist/oneliverec target/dist/onelive-sink /usr/local/bin/

# ---- runtime ----
FROM ${RUNTIME_IMAGE}
ARG STREAMLINK_VERSION=8.6.3
ARG YTDLP_VERSION=2026.10.26
# ffmpeg records and transmuxes; streamlink and yt-dlp are the platform fallbacks (from
# PyPI in a venv: Debian's are too old for today's sites); curl runs the HEALTHCHECK;
# tini is PID 1 and forwards SIGTERM (recordings finalized, app_exit delivered);
# setpriv and flock (util-linux) are used by the entrypoint.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ffmpeg ca-certificates tini curl python3 python3-venv tzdata \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "streamlink==${STREAMLINK_VERSION}" "yt-dlp==${YTDLP_VERSION}" \
 && ln -s /opt/venv/bin/streamlink /opt/venv/bin/yt-dlp /usr/local/bin/ \
 && groupadd --gid 1000 onelive \
 && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin onelive \
 && mkdir -p /app/rec /app/data /app/config /app/sink \
 && chown -R 1000:1000 /app
COPY --from=build /usr/local/bin/oneliverec /usr/local/bin/onelive-sink /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/onelive-entrypoint
# Layout: recordings in /app/rec, recorder state (webhook outbox, transmux queue) in
# /app/data, both configs in /app/config (a folder, so that API changes are written
# back atomically), the sink's job store and logs in /app/sink.
VOLUME ["/app/rec", "/app/data", "/app/config", "/app/sink"]
WORKDIR /app/config
# No ONELIVEREC_CONFIG here: `docker run IMAGE parse URL` must work without a config.
# The entrypoint starts as root, fixes the folders' owner, writes starter configs,
# then runs the program as PUID:PGID.
ENV HOME=/app PUID=1000 PGID=1000
EXPOSE 8686 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"${ONELIVEREC_HEALTH_URL:-http://127.0.0.1:8686/healthz}\" || exit 1"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/onelive-entrypoint"]
CMD ["run", "--config", "/app/config/oneliverec.toml", "--shutdown-timeout", "25s"]
