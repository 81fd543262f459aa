"""Secret files: re-read when the kubelet swaps the mounted Secret, at most one stat per check interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from reviewops.analysis.llm.settings import LLMSettings
from reviewops.secretfiles import SecretFile, split_secrets
from reviewops.settings import ConfigurationError, load_settings
from tests.support.mounted_secret import MountedSecret


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_swapped_secret_is_read_after_the_check_interval_not_before(tmp_path: Path) -> None:
    mount = MountedSecret(tmp_path / "secret", {"token": "old\n"})
    clock = Clock()
    secret = SecretFile(mount.path("token"), check_seconds=1.0, clock=clock)
    assert secret.value() == "old"
    mount.update({"token": "new"})
    clock.now += 0.5
    assert secret.value() == "old"  # no stat within the interval
    clock.now += 0.5
    assert secret.value() == "new" and secret.reloads == 1
    clock.now += 5
    assert secret.value() == "new" and secret.reloads == 1  # unchanged identity: not counted again


def test_an_unreadable_file_keeps_the_last_value(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("kept")
    clock = Clock()
    secret = SecretFile(path, clock=clock)
    assert secret.value() == "kept"
    path.unlink()
    clock.now += 2
    assert secret.value() == "kept"


def test_settings_read_each_secret_from_its_file(tmp_path: Path) -> None:
    mount = MountedSecret(
        tmp_path / "s", {"webhook-secrets": "one,two\nthree\n", "admin-token": "adm", "llm-api-key": "sk-1"}
    )
    settings = load_settings(
        webhook_secrets_file=mount.path("webhook-secrets"),
        admin_token_file=mount.path("admin-token"),
        llm_api_key_file=mount.path("llm-api-key"),
    )
    assert settings.webhook_secret_values() == ["one", "two", "three"]
    assert settings.admin_token_value() == "adm"
    assert LLMSettings.from_settings(settings).api_key == "sk-1"


def test_the_llm_key_of_a_review_is_the_one_in_force(tmp_path: Path) -> None:
    mount = MountedSecret(tmp_path / "s", {"llm-api-key": "sk-old"})
    settings = load_settings(llm_api_key_file=mount.path("llm-api-key"))
    assert LLMSettings.from_settings(settings).api_key == "sk-old"
    mount.update({"llm-api-key": "sk-new"})
    from tests.support.waiting import wait_until

    wait_until(lambda: LLMSettings.from_settings(settings).api_key == "sk-new", what="the new key")


def test_inline_values_are_unchanged_without_files() -> None:
    settings = load_settings(webhook_secrets="a, b", admin_token=SecretStr("t"), llm_api_key=SecretStr("k"))
    assert settings.webhook_secret_values() == ["a", "b"]
    assert settings.admin_token_value() == "t" and settings.llm_api_key_value() == "k"


@pytest.mark.parametrize("name", ["webhook_secrets", "admin_token", "llm_api_key"])
def test_value_and_file_together_or_a_missing_file_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "x"
    path.write_text("v")
    with pytest.raises(ConfigurationError, match=f"REVIEWOPS_{name.upper()}_FILE"):
        load_settings(**{name: "v", f"{name}_file": path})
    with pytest.raises(ConfigurationError, match="no such file"):
        load_settings(**{f"{name}_file": tmp_path / "missing"})


def test_split_secrets() -> None:
    assert split_secrets(" a ,b\n\nc,\n") == ["a", "b", "c"]
