"""Settings are declared once; the dataclass, the declaration and the README must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepcite.config import SETTINGS, ConfigError, Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_has_a_type_it_can_read_and_a_doc() -> None:
    for setting in SETTINGS:
        assert setting.doc.endswith("."), setting.name
        assert setting.type in {str, int, float, bool, Path}, setting.name


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    missing = [s.env_var for s in SETTINGS if f"`{s.env_var}`" not in readme]
    assert not missing


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    config = tmp_path / "deepcite.toml"
    config.write_text('port = 9000\nrate_limit = "5/second"\n')
    env = {"DEEPCITE_CONFIG": str(config), "DEEPCITE_PORT": "9100", "DEEPCITE_INSECURE_NO_AUTH": "yes"}
    settings = Settings.load(env, {"rate_limit": "7/minute"})
    assert (settings.port, settings.rate_limit, settings.insecure_no_auth) == (9100, "7/minute", True)


@pytest.mark.parametrize("env", [{"DEEPCITE_PORT": "eighty"}, {"DEEPCITE_FETCH_ALLOW_PRIVATE": "maybe"}])
def test_unreadable_values_are_refused_with_the_variable_name(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.load(env)
