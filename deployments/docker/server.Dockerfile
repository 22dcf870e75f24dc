# syntax=docker/dockerfile:1
#
# The phoenix server image: the control plane (`phoenix server`). Build from
# the repository root, with the version the binary reports:
#
#   docker build -f deployments/docker/server.Dockerfile --build-arg VERSION=0.1.0 -t phoenix-server:0.1.0 .
#
# The build stage runs the Makefile's `phoenix` command with the same flags;
# test/deployments checks that they stay identical. CGO is off because the
# runtime image has no C library.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
ARG VERSION=dev
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-X github.com/phoenix/platform/cli/cmd/version.Version=${VERSION}" -o bin/phoenix ./cli

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="phoenix-server" \
      org.opencontainers.image.description="Phoenix control plane: OpAMP server, REST API and experiment controller"
COPY --from=build /src/bin/phoenix /usr/local/bin/phoenix
USER 65532:65532
# 4320: OpAMP (/v1/opamp). 8080: REST API, own telemetry, /metrics, /healthz, /readyz.
EXPOSE 4320 8080
ENTRYPOINT ["/usr/local/bin/phoenix", "server"]
# Mount the server configuration here (Kubernetes: the phoenix-server-config
# ConfigMap). Without a store or tokens file in it the server writes to
# data_dir, which then needs a writable volume.
CMD ["--config", "/etc/phoenix/server.yaml"]
