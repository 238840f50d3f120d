# syntax=docker/dockerfile:1
# Multi-stage build: a static, cgo-free binary on distroless, running as
# non-root, with a HEALTHCHECK through the binary itself (no shell, no curl).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/cifbridge ./cmd/cifbridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cifbridge /cifbridge
COPY --from=build --chown=65532:65532 /out/data /data
# The image listens on 0.0.0.0: cifbridge then refuses to start until it
# has tokens (CIFBRIDGE_ADMIN_TOKEN, better also CIFBRIDGE_WIDGET_TOKEN and
# CIFBRIDGE_HOST_TOKEN, or their *_FILE variables) or the operator opts in
# with CIFBRIDGE_ALLOW_UNAUTHENTICATED=true (docker-compose.yml does, with
# the port published on loopback). The choice is the operator's, not the
# image's.
ENV CIFBRIDGE_LISTEN=0.0.0.0:8787 \
    CIFBRIDGE_DATA_DIR=/data \
    CIFBRIDGE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8787
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/cifbridge", "healthcheck"]
ENTRYPOINT ["/cifbridge"]
CMD ["serve"]
