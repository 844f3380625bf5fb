# syntax=docker/dockerfile:1
#
# Container images for every Sagaway process, built from one Dockerfile.
#
# A single builder compiles all five binaries once; a shared runtime stage holds them; each
# process then gets a small named target that only sets its entrypoint and ports:
#
#   docker build --target order -t sagaway-order .
#
# compose.yaml builds the same targets. Without --target, the last stage (gateway) is built.

# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build

# rdkafka compiles its bundled librdkafka from source. cmake and pkg-config drive that build;
# the OpenSSL, Cyrus SASL and zlib headers cover compression now and TLS/SASL once those
# features are switched on for a secured cluster. The protos need no protoc: contracts/
# compiles them in Rust (protox).
# Versions are not pinned: the bookworm base already fixes them to one Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        cmake \
        libsasl2-dev \
        libssl-dev \
        pkg-config \
        zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

# Build with the toolchain this image ships. rust-toolchain.toml names the same version but also
# asks for rustfmt and clippy, which a release build does not need and would otherwise download.
ENV RUSTUP_TOOLCHAIN=1.95.0

WORKDIR /work
COPY . .

# The registry, git and target caches survive between builds, so a rebuild after a small
# change recompiles only what changed. A cache mount is not part of the image, which is why
# the binaries are copied out of target/ before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/work/target \
    cargo build --release --locked \
        --bin sagaway-gateway \
        --bin sagaway-order \
        --bin sagaway-product \
        --bin sagaway-user \
        --bin sagaway-registry \
 && mkdir -p /out \
 && cp target/release/sagaway-gateway \
       target/release/sagaway-order \
       target/release/sagaway-product \
       target/release/sagaway-user \
       target/release/sagaway-registry \
       /out/

# ---------------------------------------------------------------------------------------------
# Runtime: shared by every process
# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# Shared libraries a TLS/SASL-enabled librdkafka links against, CA roots for outgoing TLS,
# and curl for the container health checks (compose.yaml calls /health/ready with it).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates \
        curl \
        libsasl2-2 \
        libssl3 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 sagaway \
 && useradd --system --uid 10001 --gid sagaway --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sagaway

COPY --from=build /out/ /usr/local/bin/

ENV RUST_LOG=info \
    SAGAWAY_LOG_FORMAT=json

# Numeric, so orchestrators that insist on a non-root uid (runAsNonRoot) can check it.
USER 10001:10001

# ---------------------------------------------------------------------------------------------
# One target per process
# ---------------------------------------------------------------------------------------------

# Contract registry: Confluent-compatible HTTP API plus /health/* and /metrics.
FROM runtime AS registry
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/sagaway-registry"]

# Order service: gRPC, then admin HTTP (/health/*, /metrics) on gRPC port + 1000.
FROM runtime AS order
EXPOSE 50051 51051
ENTRYPOINT ["/usr/local/bin/sagaway-order"]

# Product service.
FROM runtime AS product
EXPOSE 50052 51052
ENTRYPOINT ["/usr/local/bin/sagaway-product"]

# User service.
FROM runtime AS user
EXPOSE 50053 51053
ENTRYPOINT ["/usr/local/bin/sagaway-user"]

# HTTP gateway: the public API plus /health/* and /metrics. Last, so it is the default target.
FROM runtime AS gateway
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sagaway-gateway"]
