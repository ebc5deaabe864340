# tierwise gateway image: Python slim, dependencies installed by uv from uv.lock, run as a non-root user.
#   docker build -t tierwise .
#   docker run -p 8787:8787 -e ANTHROPIC_API_KEY -e OPENAI_API_KEY tierwise              # serve
#   docker run --rm tierwise keys list --config /etc/tierwise/tierwise.yaml           # any other command
# Extras: redis (shared state), postgres (ledger), otel (traces). Override with --build-arg EXTRAS="...".
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /bin/uv
ARG EXTRAS="--extra redis --extra postgres --extra otel"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/tierwise
WORKDIR /src
# Dependencies first (a layer that survives source changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev --no-install-project $EXTRAS
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev --no-editable $EXTRAS

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/tierwise tierwise
COPY --from=build /opt/tierwise /opt/tierwise
ENV PATH=/opt/tierwise/bin:$PATH PYTHONUNBUFFERED=1
USER tierwise
WORKDIR /var/lib/tierwise
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=2)"]
ENTRYPOINT ["tierwise"]
CMD ["serve", "--host", "0.0.0.0"]
