# syntax=docker/dockerfile:1
#
# The phoenix-collector image: the OpAMP supervisor, which is the entrypoint,
# and the phoenix-collector it runs and reconfigures. Build from the
# repository root:
#
#   docker build -f deployments/docker/collector.Dockerfile -t phoenix-collector:0.1.0 .
#
# The build stage runs the Makefile's commands (generate-collector, collector,
# supervisor) in the same order with the same flags; test/deployments checks
# that they stay identical. CGO is off because the runtime image has no C
# library; nothing in the distribution needs cgo.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
COPY . .
# OCB writes the collector's main package into _build/; every module version
# comes from go.mod, as with `make generate-collector`.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go tool builder --config builder-config.yaml --skip-get-modules --skip-compilation
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o bin/phoenix-collector ./_build
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o bin/opampsupervisor github.com/open-telemetry/opentelemetry-collector-contrib/cmd/opampsupervisor

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="phoenix-collector" \
      org.opencontainers.image.description="OpAMP supervisor and the phoenix-collector distribution"
COPY --from=build /src/bin/opampsupervisor /usr/local/bin/opampsupervisor
COPY --from=build /src/bin/phoenix-collector /usr/local/bin/phoenix-collector
# Non-root by default. Reading other users' /proc entries needs more: the
# Kubernetes DaemonSet grants exactly that (docs/operations.md, "Privileges
# the agent needs").
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/opampsupervisor"]
# Mount the supervisor configuration here (Kubernetes: the phoenix-agent-config
# ConfigMap); it names /usr/local/bin/phoenix-collector as agent.executable.
CMD ["--config", "/etc/phoenix/supervisor.yaml"]
