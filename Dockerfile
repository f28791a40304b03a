# roster's container image (docs/operations.md, "The image"): built in a Rust image, run on
# Debian slim as a non-root user with the SQLite database in the /data volume.
#
#   podman build --format docker -t roster .      # or: docker build -t roster .
#
# Without a registry, .ci/image builds the same file from local base images (see there).
# `--format docker` keeps HEALTHCHECK (the OCI image format has no health check).

ARG RUST_IMAGE=docker.io/library/rust:1-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---- builder: a release build of the `roster` binary --------------------------------------------
FROM ${RUST_IMAGE} AS builder
# libpq for diesel's PostgreSQL backend; SQLite is bundled (compiled in).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin roster \
 && install -D -m 0755 target/release/roster /out/roster

# ---- runtime ------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# libpq5: the PostgreSQL client library the binary links; ca-certificates: for libpq's
# `sslrootcert=system` (event delivery verifies receivers with its own bundled roots).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 roster \
 && useradd --system --uid 10001 --gid roster --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin roster \
 && install -d -o roster -g roster -m 0700 /data
COPY --from=builder /out/roster /usr/local/bin/roster

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# Listen on every interface inside the container; SQLite in the volume unless DATABASE_URL
# names PostgreSQL. ROSTER_BASE_URL is required in production (docs/operations.md).
ENV ROSTER_BIND=0.0.0.0:8080 \
    DATABASE_URL=/data/roster.db \
    ROSTER_LOG_FORMAT=json
EXPOSE 8080
# roster drains on SIGTERM (ROSTER_SHUTDOWN_TIMEOUT, default 30 s): give it that long.
STOPSIGNAL SIGTERM
# Liveness without adding an HTTP client to the image: bash's /dev/tcp, GET /healthz on the
# port of ROSTER_BIND.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${ROSTER_BIND##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["serve"]
