"""`tierwise keys` finds the ledger through --config like the other commands, and prints a key only at creation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierwise.cli import main
from tierwise.config.loader import default_config_text
from tierwise.keys import KeyStore


def config_with_ledger(tmp_path: Path) -> tuple[Path, Path]:
    ledger = tmp_path / "elsewhere" / "keys.db"
    ledger.parent.mkdir()
    config = tmp_path / "tierwise.yaml"
    text = default_config_text()
    assert "path: tierwise.db" in text
    config.write_text(text.replace("path: tierwise.db", f"path: {ledger}"), encoding="utf-8")
    return config, ledger


def test_create_list_revoke_through_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, ledger = config_with_ledger(tmp_path)
    assert main(["keys", "create", "ci", "--config", str(config), "--daily-budget", "1.5", "--tiers", "speed"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    (record,) = KeyStore(ledger).list()
    assert key.startswith(record.key_id + "-") and "shown this once" in err and key not in err

    assert main(["keys", "list", "--config", str(config), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["key_id"] == record.key_id and listed["daily_budget_usd"] == "1.5" and listed["tiers"] == ["speed"]
    assert key not in json.dumps(listed)

    assert main(["keys", "revoke", record.key_id, "--ledger", str(ledger)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "list", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert record.key_id in table and "revoked" in table and key[12:] not in table


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = str(tmp_path / "t.db")
    with pytest.raises(SystemExit) as bad_tier:
        main(["keys", "create", "x", "--ledger", ledger, "--tiers", "turbo"])
    assert bad_tier.value.code == 2 and "expected tiers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["keys", "create", "x", "--ledger", ledger, "--daily-budget", "-1"])
    assert main(["keys", "revoke", "tw-00000000", "--ledger", ledger]) == 1
    assert KeyStore(ledger).list() == []
