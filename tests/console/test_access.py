"""The console needs an admin key; API keys cannot open it, and an admin key cannot call the API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from tests.console.conftest import Site


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def get(url: str, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {key}"} if key else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_without_a_key_pages_redirect_to_sign_in_and_the_api_answers_401(site: Site) -> None:
    status, headers, _ = get(site.url + "/console/overview?period=all")
    assert status == 303 and headers["location"].startswith("/console/signin?next=")
    status, _, body = get(site.url + "/console/api/report")
    assert status == 401 and "admin key" in json.loads(body)["error"]["message"]
    status, _, body = get(site.url + "/console/signin")
    assert status == 200 and b'name="key"' in body


def test_an_api_key_is_refused_and_an_admin_key_is_let_in(site: Site) -> None:
    status, _, body = get(site.url + "/console/api/report", site.plain_key)
    assert status == 403 and "API key" in json.loads(body)["error"]["message"]
    status, _, _ = get(site.url + "/console/api/report", "tw-00000000-not-a-key")
    assert status == 401
    status, headers, body = get(site.url + "/console/api/report?period=all", site.admin_key)
    assert status == 200 and headers["cache-control"] == "no-store"
    assert json.loads(body)["requests"] > 0
    status, _, body = get(site.url + "/console/overview?period=all", site.admin_key)
    assert status == 200 and b"Saved vs baseline" in body


def test_the_admin_key_does_not_open_the_api(site: Site) -> None:
    client = openai.OpenAI(base_url=site.url + "/v1", api_key=site.admin_key, max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="admin key"):
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hello"}])


def test_the_json_endpoints_give_the_same_figures_as_report_json(site: Site) -> None:
    report = site.report("--period", "7d")
    _, _, body = get(site.url + "/console/api/report?period=7d", site.admin_key)
    served = json.loads(body)
    for key in ("requests", "errors", "spend_usd", "savings", "routes", "by_tier", "sessions", "tiers_over_time"):
        assert served[key] == report[key], key
    _, _, body = get(site.url + "/console/api/keys?period=7d", site.admin_key)
    keys = {k["name"]: k for k in json.loads(body)["keys"]}
    assert keys["team-a"]["rate_limited"] == 2 and keys["team-a"]["requests"] == 6
    assert keys["console-admin"]["admin"] is True
