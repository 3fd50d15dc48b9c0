# cursor-exporter image: docker build -t cursor-exporter .
# Runs as a numeric non-root user with a read-only root filesystem; the SQLite ledger lives on the
# volume at /var/lib/cursor-exporter (--storage.path, CURSOR_EXPORTER_STORAGE_PATH).

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cursor_exporter ./cursor_exporter
# The same wheel the tests install; its dependencies come from PyPI at build time.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/cursor-exporter \
    && /opt/cursor-exporter/bin/pip install /wheels/cursor_exporter-*.whl

FROM python:3.11-slim-bookworm
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cursor-exporter" \
      org.opencontainers.image.description="Cursor Admin API spend and usage as exact, restart-safe Prometheus metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
COPY --from=build /opt/cursor-exporter /opt/cursor-exporter
# 65532 is the conventional "nonroot" id; nothing in the image is writable by it except the state volume.
RUN mkdir -p /var/lib/cursor-exporter && chown 65532:65532 /var/lib/cursor-exporter
ENV PATH=/opt/cursor-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CURSOR_EXPORTER_STORAGE_PATH=/var/lib/cursor-exporter \
    CURSOR_EXPORTER_REVISION=${REVISION} \
    CURSOR_EXPORTER_WEB_LISTEN_ADDRESS=:9773
# The working directory is the volume, so temporary files (the demo's ledger) work with a read-only root.
WORKDIR /var/lib/cursor-exporter
VOLUME ["/var/lib/cursor-exporter"]
USER 65532:65532
EXPOSE 9773
ENTRYPOINT ["cursor-exporter"]
CMD ["serve"]
