# The example service in a container. Build: docker build -t service .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# The framework first, in its own layer: editing routes or handlers reuses it.
COPY pyproject.toml README.md ./
COPY service/ service/
# Installs this project; its dependencies are bounded in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir '.[uvloop]' && rm -rf build service.egg-info

COPY routes.yaml ./
COPY handlers/ handlers/

RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app
USER 10001:10001

# An image is never built from a broken routes.yaml.
RUN python -m service check routes.yaml

EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=2)"]

# Exec form: the server is PID 1 and gets SIGTERM from `docker stop` itself.
CMD ["python", "-m", "service", "serve", "routes.yaml"]
