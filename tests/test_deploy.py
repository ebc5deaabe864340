"""The container files hold together: compose's replicas share Redis and PostgreSQL through the config they
mount, the image runs as a non-root user, and what they reference exists. (No container engine runs here, so
the images themselves are not built by the tests.)"""

from __future__ import annotations

from pathlib import Path

import yaml

from tierwise.config.loader import load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_two_replicas_on_shared_redis_and_postgres() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name, service in services.items() if service.get("image") == "tierwise:local"]
    assert sorted(replicas) == ["gateway-a", "gateway-b"]
    for name in replicas:
        service = services[name]
        mount = service["volumes"][0].split(":")
        assert (ROOT / mount[0]).is_file() and mount[1] in service["command"]
        assert set(service["depends_on"]) == {"redis", "postgres"}
        environment = service["environment"]
        settings = load_settings(ROOT / mount[0], environ={k: str(v) for k, v in environment.items()})
        assert settings.state.backend == "redis" and settings.state.url == "redis://redis:6379/0"
        assert settings.ledger.backend == "postgres" and settings.ledger.url is not None
        assert "@postgres:5432/" in settings.ledger.url
    assert {"redis", "postgres", "balancer"} <= set(services)
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server gateway-a:8787" in nginx and "server gateway-b:8787" in nginx


def test_the_image_runs_tierwise_as_a_non_root_user_from_the_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --locked --no-dev" in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["tierwise"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "*.db" in ignored
