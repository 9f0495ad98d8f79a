# syntax=docker/dockerfile:1
# Multi-stage build: static binaries (CGO off; FerretDB's SQLite is pure Go)
# into a minimal non-root image. Run it with a read-only root filesystem.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    for b in app agent healthcheck; do \
      go build -trimpath -ldflags "-s -w -X github.com/vigil-sh/vigil/internal/buildinfo.Version=${VERSION} -X github.com/vigil-sh/vigil/internal/buildinfo.Revision=${REVISION}" -o /out/$b ./cmd/$b || exit 1; \
    done

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 8080 9465
ENTRYPOINT ["/usr/local/bin/app"]
