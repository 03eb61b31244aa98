# oneliverec: the recorder, in a small Debian image with ffmpeg.
#   docker build -t oneliverec .
#   docker compose up -d          (see compose.yaml)

# ---- build ----
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p oneliverec \
 && cp target/release/oneliverec /usr/local/bin/oneliverec

# ---- runtime ----
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --home-dir /app oneliverec \
 && mkdir -p /app/rec /app/data /app/config \
 && chown -R oneliverec /app
COPY --from=build /usr/local/bin/oneliverec /usr/local/bin/oneliverec
WORKDIR /app
USER oneliverec
# Recordings in /app/rec (the seed's layout), engine state (webhook outbox,
# transmux queue) in /app/data, the config in /app/config/oneliverec.toml
# (a mounted folder, so that API changes can be written back atomically).
VOLUME ["/app/rec", "/app/data", "/app/config"]
ENV ONELIVEREC_CONFIG=/app/config/oneliverec.toml
EXPOSE 8686
# tini forwards SIGTERM so that recordings are finalized and app_exit is sent.
ENTRYPOINT ["/usr/bin/tini", "--", "oneliverec"]
CMD ["run", "--shutdown-timeout", "25s"]
STOPSIGNAL SIGTERM
