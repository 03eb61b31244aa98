#!/usr/bin/env bash
# Installs the system tools onelive's tests and demo need, on Debian/Ubuntu.
# Elsewhere it prints what to install and fails.
set -euo pipefail

need_apt=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
# The web UI's browser tests (bins/oneliverec/tests/e2e_webui.rs) drive headless Chromium.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# onelive-sink's `rclone` action and its tests run the real rclone (serving WebDAV on loopback).
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
# onelive-cluster's tests start a real PostgreSQL server (initdb + postgres) in a temp dir.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)

if [ "${#need_apt[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        echo "install-deps: installing ${need_apt[*]} with apt-get" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "install-deps: missing ${need_apt[*]}; install them with your package manager" >&2
        echo "  (macOS: brew install ffmpeg; Fedora: dnf install ffmpeg; Arch: pacman -S ffmpeg)" >&2
        exit 1
    fi
fi

# onelive-platform's streamlink fallback and its tests use the streamlink CLI (PyPI).
# Optional: without it, those tests print a notice and skip.
if ! command -v streamlink >/dev/null 2>&1; then
    echo "install-deps: installing streamlink with pip" >&2
    if ! { command -v python3 >/dev/null 2>&1 && python3 -m pip install --quiet streamlink >/dev/null 2>&1; } \
        && ! { command -v python3 >/dev/null 2>&1 && python3 -m pip install --quiet --break-system-packages streamlink >/dev/null 2>&1; }; then
        echo "install-deps: could not install streamlink (pip install streamlink); its tests will be skipped" >&2
    fi
fi

# onelive-platform's yt-dlp fallback and its tests use the yt-dlp CLI (PyPI).
# Optional: without it, those tests print a notice and skip.
if ! command -v yt-dlp >/dev/null 2>&1; then
    echo "install-deps: installing yt-dlp with pip" >&2
    if ! { command -v python3 >/dev/null 2>&1 && python3 -m pip install --quiet yt-dlp >/dev/null 2>&1; } \
        && ! { command -v python3 >/dev/null 2>&1 && python3 -m pip install --quiet --break-system-packages yt-dlp >/dev/null 2>&1; }; then
        echo "install-deps: could not install yt-dlp (pip install yt-dlp); its tests will be skipped" >&2
    fi
fi

# onelive-sink's `s3` tests upload to s3rver (npm), a real S3 server they start on loopback.
if ! command -v s3rver >/dev/null 2>&1; then
    if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        echo "install-deps: installing npm with apt-get (for s3rver)" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "install-deps: installing s3rver with npm" >&2
    if ! { command -v npm >/dev/null 2>&1 && npm install -g --silent s3rver@3.7.1 >/dev/null 2>&1; }; then
        echo "install-deps: could not install s3rver (npm install -g s3rver)" >&2
        if [ "${CI:-}" = "true" ]; then exit 1; fi
    fi
fi
