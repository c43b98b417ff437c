#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 20), starting
# from the committed seeds (fuzz/seeds/<target>, copied to a scratch corpus).
# Exits 0 with a message when no nightly toolchain or cargo-fuzz is available.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain; skipped"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
        echo "fuzz: cargo-fuzz unavailable and not installable; skipped"
        exit 0
    fi
fi
cargo +nightly fuzz build
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$t"
    cp seeds/"$t"/* "$work/$t"/ 2>/dev/null || true
    echo "fuzz: $t for ${secs}s"
    cargo +nightly fuzz run "$t" "$work/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 2>&1 | grep -E "^#[0-9]+.*DONE|panicked|ERROR" || true
    # A crash leaves an artifact and a non-zero status: fail CI.
    if ls artifacts/"$t"/crash-* >/dev/null 2>&1; then
        echo "fuzz: $t found a crash (fuzz/artifacts/$t)"; exit 1
    fi
done
