# stampgate: the SMTP relay that enforces confidentiality stamps.
# Build: docker build -t stampgate .   Try it: docker compose up --build (docker-compose.yml)
# The base image by tag. To pin it by digest (the digest of the tag's current image list:
# docker buildx imagetools inspect python:3.11-slim-bookworm), build with
#   --build-arg BASE=python:3.11-slim-bookworm@sha256:<digest>
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_MULTIPROC_DIR=/run/stampgate

# Fixed ids: docker-compose.yml gives the tmpfs under /run/stampgate to uid/gid 999.
RUN groupadd --system --gid 999 stampgate \
 && useradd --system --uid 999 --gid stampgate --home-dir /var/lib/stampgate \
            --shell /usr/sbin/nologin stampgate

# libpq: psycopg's connection to a PostgreSQL store (docs/deploy.md, several instances).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/stampgate
COPY pyproject.toml README.md ./
COPY requirements/run.txt ./requirements/run.txt
# Every dependency exactly as locked and checked against its hash (scripts/lock writes the file).
RUN pip install --no-compile --require-hashes -r requirements/run.txt
COPY gateway ./gateway
RUN pip install --no-compile --no-deps . && pip check && rm -rf /opt/stampgate/gateway /root/.cache

COPY policies /etc/stampgate/policies
COPY deploy/stampgate.toml /etc/stampgate/stampgate.toml
RUN mkdir -p /var/lib/stampgate /run/stampgate \
 && chown -R stampgate:stampgate /var/lib/stampgate /run/stampgate \
 && chmod 0700 /var/lib/stampgate

USER stampgate
WORKDIR /var/lib/stampgate
VOLUME ["/var/lib/stampgate"]
# 2525: SMTP from mail clients or the mail server; 8025: health, readiness, metrics, review UI
EXPOSE 2525 8025
# SIGTERM drains the sessions in DATA (shutdown_deadline); give it time before SIGKILL.
STOPSIGNAL SIGTERM
# Healthy means ready: the store writable, enough free disk (min_free_bytes), the downstream
# answering. /readyz answers 503 otherwise (urlopen raises, so the check exits 1); its probes
# take at most about 7 s.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8025/readyz', timeout=9).status != 200)"]
ENTRYPOINT ["stampgate"]
CMD ["serve", "--config", "/etc/stampgate/stampgate.toml"]
