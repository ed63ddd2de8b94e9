# MLP Playground: docker build -t mlp-playground . && docker run -p 127.0.0.1:8000:8000 mlp-playground
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Dependencies in their own layer: it is rebuilt only when pyproject.toml changes, not on
# every code edit. The list is read from pyproject.toml so it cannot drift; with the
# postgres and redis extras, so one image serves a single container or several replicas.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres'] + p['optional-dependencies']['redis']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/pyproject.toml

# Build stage: the wheel, exactly what `pip install .` installs (the page's files inside it).
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY server ./server
COPY static ./static
RUN pip wheel --no-deps --wheel-dir /wheels .

# Run stage: the installed wheel, no source checkout.
FROM base
# Bound to 0.0.0.0 inside the container, the server would answer any Host name, so a web
# page whose name was rebound to 127.0.0.1 (DNS rebinding) could drive it: it answers the
# loopback names only, as it does outside a container. Serving it under a name means
# naming it: docker run -e MLPG_ALLOWED_HOSTS='["class.school.example"]' ...
ENV MLPG_DATABASE_URL=sqlite:////data/mlp-playground.db \
    MLPG_ALLOWED_HOSTS='["localhost", "127.0.0.1"]'
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 playground \
    && mkdir /data \
    && chown 10001 /data

# Saved runs and session snapshots outlive the container when /data is a volume.
VOLUME /data
WORKDIR /home/playground
USER 10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["mlp-playground", "--host", "0.0.0.0", "--port", "8000"]
