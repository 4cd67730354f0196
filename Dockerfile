# sentpipe as a container: `docker build -t sentpipe .` (or `docker compose build`).
# Stage 1 builds the wheel, stage 2 installs it into a venv and runs as a non-root user.
# No secrets are baked in: credentials come from the environment (.env) at run time.
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11) and its venv module; CI
# builds with a local one (scripts/container-base, docs/deployment.md).
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN python3 -m venv /tmp/build-venv \
    && /tmp/build-venv/bin/pip install --no-cache-dir --disable-pip-version-check --upgrade pip \
    && /tmp/build-venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/sentpipe/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SENTPIPE_DATA_DIR=/var/lib/sentpipe
RUN groupadd --system --gid 10001 sentpipe \
    && useradd --system --uid 10001 --gid sentpipe --home-dir /var/lib/sentpipe \
       --shell /usr/sbin/nologin sentpipe \
    && mkdir -p /var/lib/sentpipe /var/lib/sentpipe/metrics \
    && chown -R sentpipe:sentpipe /var/lib/sentpipe
COPY --from=build /dist/ /tmp/wheels/
RUN python3 -m venv /opt/sentpipe \
    && /opt/sentpipe/bin/pip install --no-cache-dir --disable-pip-version-check /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && sentpipe --version
USER sentpipe
WORKDIR /var/lib/sentpipe
ENTRYPOINT ["sentpipe"]
CMD ["--help"]
