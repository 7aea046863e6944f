# dum as a container image: a static (musl) binary in an otherwise empty image.
#
#   docker build -t dum .                    # builds dum from source (needs the internet)
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#       -v ./config:/config -v ./state:/state dum check
#
# Offline (no base image can be pulled), from a static binary built on the host:
#   packaging/build-image dum                # = cargo build --target x86_64-unknown-linux-musl
#                                            #   + docker build --target prebuilt
#
# Stage order matters for the classic builder, which builds every stage before the
# target: `prebuilt` comes first so that `--target prebuilt` needs nothing but its
# build context (dum and ca-certificates.crt, assembled by packaging/build-image).

FROM scratch AS prebuilt
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY dum /dum
# Registry logins (a docker config.json with "auths") go in the config mount.
ENV CONFIG_FILE=/config/config.json \
    STATE_FILE=/state/state.json \
    DOCKER_CONFIG=/config/docker
VOLUME ["/config", "/state"]
ENTRYPOINT ["/dum"]
CMD ["check"]

FROM rust:1-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# No .git in the build context: pass the commit for `dum --version`.
ARG DUM_GIT_COMMIT=
RUN DUM_GIT_COMMIT="$DUM_GIT_COMMIT" cargo build --locked --release \
        --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/release/dum /dum

FROM scratch
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /dum /dum
# Registry logins (a docker config.json with "auths") go in the config mount.
ENV CONFIG_FILE=/config/config.json \
    STATE_FILE=/state/state.json \
    DOCKER_CONFIG=/config/docker
VOLUME ["/config", "/state"]
ENTRYPOINT ["/dum"]
CMD ["check"]
