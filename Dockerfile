# Mini CDN images: one build stage, three small runtime targets.
#   docker build --target dist   -t cdn-dist   .
#   docker build --target node   -t cdn-node   .
#   docker build --target client -t cdn-client .
# Base images are build args so that machines without a registry can use
# local stand-ins (scripts/local-base-images.sh); the defaults are the
# official images. Works with the legacy builder too (no RUN --mount).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0
# 1. Dependencies only: the manifests, the lock file and stub sources, so this
#    slow layer is reused until Cargo.toml or Cargo.lock change. The test
#    kit and the benchmark are workspace members too: their manifests (and a
#    stub for each target they declare) must be there for the workspace to
#    load, but nothing of theirs is built.
COPY Cargo.toml Cargo.lock ./
COPY common/Cargo.toml common/
COPY dist/Cargo.toml dist/
COPY node/Cargo.toml node/
COPY client/Cargo.toml client/
COPY testkit/Cargo.toml testkit/
COPY bench/Cargo.toml bench/
ENV SHIPPED="-p cdn-dist -p cdn-node -p cdn-client"
RUN for c in common dist node client testkit bench; do \
      mkdir -p $c/src && echo 'fn main() {}' > $c/src/main.rs && : > $c/src/lib.rs; \
    done \
 && mkdir -p testkit/tests && : > testkit/tests/services.rs \
 && cargo build --release --locked --bins $SHIPPED \
 && rm -rf common dist node client
# 2. The real sources. Touch them: COPY keeps the files' own (older) times,
#    and cargo would otherwise take the stub build as up to date.
COPY common common
COPY dist dist
COPY node node
COPY client client
COPY migrations migrations
RUN find common dist node client migrations -type f -exec touch {} + \
 && cargo build --release --locked --bins $SHIPPED \
 && mkdir -p /out \
 && cp target/release/cdn-dist target/release/cdn-node target/release/cdn /out/

# Shared runtime base: CA certificates (taken from the build image, so no
# package download is needed here) and an unprivileged user.
FROM ${DEBIAN_IMAGE} AS runtime
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN groupadd --system --gid 10001 cdn \
 && useradd --system --uid 10001 --gid cdn --home-dir /home/cdn --shell /usr/sbin/nologin cdn \
 && install -d -o cdn -g cdn /home/cdn

FROM runtime AS dist
COPY --from=build /out/cdn-dist /usr/local/bin/cdn-dist
USER cdn
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 CMD ["cdn-dist", "--healthcheck"]
ENTRYPOINT ["cdn-dist"]

FROM runtime AS node
COPY --from=build /out/cdn-node /usr/local/bin/cdn-node
# Created here with its owner, so a fresh named volume mounted on /storage
# starts out writable by the cdn user.
RUN install -d -o cdn -g cdn /storage
VOLUME /storage
USER cdn
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 CMD ["cdn-node", "--healthcheck"]
ENTRYPOINT ["cdn-node"]

FROM runtime AS client
COPY --from=build /out/cdn /usr/local/bin/cdn
USER cdn
# `cdn demo` writes client_data/ and tmp/ under its working directory.
WORKDIR /home/cdn
ENTRYPOINT ["cdn"]
CMD ["--help"]
