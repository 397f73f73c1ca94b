import pytest

from bot.settings import SettingsError, load_settings


def test_defaults_use_sqlite_and_packaged_playbooks(monkeypatch):
    monkeypatch.delenv("CORONER_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:")
    assert (settings.playbooks_dir / "__init__.py").exists()


def test_webhook_secrets_split_on_commas_for_rotation(monkeypatch):
    monkeypatch.setenv("CORONER_PAGERDUTY_WEBHOOK_SECRETS", "old-secret, new-secret")
    secrets = load_settings().pagerduty_webhook_secrets
    assert [s.get_secret_value() for s in secrets] == ["old-secret", "new-secret"]


def test_invalid_setting_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CORONER_DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "CORONER_DATABASE_URL" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_setting_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CORONER_CATALOG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(SettingsError, match="CORONER_CATALOG_FILE"):
        load_settings()


def test_secret_values_are_not_in_repr(monkeypatch):
    monkeypatch.setenv("CORONER_SLACK_SIGNING_SECRET", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(load_settings())


def test_registry_settings_reach_the_registry_reader(monkeypatch):
    from bot.images.registry_reader import RegistryImageReader
    from bot.readers import image_reader

    monkeypatch.setenv("CORONER_IMAGE_BYTE_BUDGET", "1048576")
    monkeypatch.setenv("CORONER_IMAGE_PLATFORM", "linux/arm64")
    reader = image_reader(load_settings())
    assert isinstance(reader, RegistryImageReader)
    assert reader.byte_budget == 1048576


def test_byte_budget_must_be_positive(monkeypatch):
    monkeypatch.setenv("CORONER_IMAGE_BYTE_BUDGET", "0")
    with pytest.raises(SettingsError, match="CORONER_IMAGE_BYTE_BUDGET"):
        load_settings()


def test_web_view_is_off_until_a_secret_is_set(monkeypatch):
    for name in ("CORONER_WEB_SECRET", "CORONER_PUBLIC_URL", "CORONER_WEB_LINK_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.web_secret is None
    assert settings.public_url == "http://localhost:8080"
    assert settings.web_link_ttl_seconds == 7 * 24 * 3600


def test_short_web_secret_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("CORONER_WEB_SECRET", "hunter2-too-short")
    with pytest.raises(SettingsError, match="CORONER_WEB_SECRET: .*at least 32 characters") as err:
        load_settings()
    assert "hunter2" not in str(err.value)


def test_public_url_is_a_base_without_trailing_slash(monkeypatch):
    monkeypatch.setenv("CORONER_PUBLIC_URL", "https://coroner.example.com/")
    assert load_settings().public_url == "https://coroner.example.com"
    monkeypatch.setenv("CORONER_PUBLIC_URL", "coroner.example.com")
    with pytest.raises(SettingsError, match="CORONER_PUBLIC_URL"):
        load_settings()
