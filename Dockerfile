# MLP Playground: docker build -t mlp-playground . && docker run -p 8000:8000 mlp-playground
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies in their own layer: it is rebuilt only when pyproject.toml changes, not on
# every code edit. The list is read from pyproject.toml so it cannot drift.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The application. An editable install keeps server/ next to static/, which the app serves.
COPY README.md ./
COPY server ./server
COPY static ./static
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 playground

USER playground
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["mlp-playground", "--host", "0.0.0.0", "--port", "8000"]
