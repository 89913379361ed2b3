"""The bot refuses to start in any configuration that would serve it without authentication."""

import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError

TENANT = "00000000-0000-0000-0000-0000000000aa"


def settings(**values) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_dev_mode_with_an_app_id_is_refused() -> None:
    with pytest.raises(SettingsError, match="cannot be combined"):
        create_app(settings(dev_mode=True, app_id="11111111-2222-3333-4444-555555555555"))


def test_dev_mode_with_a_password_is_refused() -> None:
    with pytest.raises(SettingsError, match="cannot be combined"):
        create_app(settings(dev_mode=True, app_password="secret"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_dev_mode_listens_on_loopback_only(host: str) -> None:
    with pytest.raises(SettingsError, match="loopback"):
        create_app(settings(dev_mode=True, host=host))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_dev_mode_on_loopback_is_accepted(host: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings(dev_mode=True, host=host, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert any(r.resource and r.resource.canonical == "/api/messages" for r in app.router.routes())


def test_no_app_id_without_dev_mode_is_refused() -> None:
    with pytest.raises(SettingsError, match="No MicrosoftAppId"):
        create_app(settings())


def test_single_tenant_needs_the_tenant_id() -> None:
    with pytest.raises(SettingsError, match="MicrosoftAppTenantId is required"):
        create_app(settings(app_id="11111111-2222-3333-4444-555555555555", app_password="pw"))


def test_multi_tenant_needs_an_allow_list() -> None:
    with pytest.raises(SettingsError, match="serves only the tenants"):
        create_app(settings(app_id="11111111-2222-3333-4444-555555555555", app_password="pw", app_type="MultiTenant"))


def test_bot_framework_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MicrosoftAppId", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("MicrosoftAppPassword", "pw")
    monkeypatch.setenv("MicrosoftAppTenantId", TENANT)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/x")
    loaded = settings()
    assert loaded.app_id == "11111111-2222-3333-4444-555555555555"
    assert loaded.allowed_tenant_ids == [TENANT]
    assert loaded.database_url == "postgresql+asyncpg://u@db/x"
    loaded.check_safe_to_serve()
    assert "pw" not in repr(loaded)
