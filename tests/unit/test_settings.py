"""Settings: where data goes, and what a production process refuses to start with."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

import settings as settings_mod
from settings import Settings

STRONG = {"secret_key": "k" * 32, "staff_api_token": "t" * 32, "webhook_hmac_secret": "h" * 32}


@pytest.mark.parametrize("name", ["secret_key", "staff_api_token", "webhook_hmac_secret"])
@pytest.mark.parametrize("value", ["dev-only-anything", "change-me", "CHANGE-ME", "", "short-secret"])
def test_production_refuses_development_placeholder_and_short_secrets(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name.upper()):
        Settings(env="production", **{**STRONG, name: value})


def test_production_starts_with_real_secrets_and_development_with_defaults() -> None:
    assert Settings(env="production", **STRONG).env == "production"
    assert Settings(env="development").secret_key.get_secret_value().startswith("dev-only")


def test_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "data"))
    assert settings_mod._var_dir() == tmp_path / "data"
    monkeypatch.delenv("VAR_DIR")
    assert settings_mod._var_dir() == settings_mod.ROOT / "var"  # a checkout keeps var/ beside the sources
    monkeypatch.setattr(settings_mod, "ROOT", tmp_path / "site-packages")  # an installed package …
    monkeypatch.chdir(tmp_path)
    assert settings_mod._var_dir() == tmp_path / "var"  # … writes under the working directory
