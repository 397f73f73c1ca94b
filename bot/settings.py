"""Configuration: the only reader of `os.environ`. Every variable is `CORONER_<FIELD>`.

`load_settings()` turns pydantic's multi-line validation report into one line that names the variable,
because that line is what an operator sees when the bot refuses to start.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ports import CoronerError

ENV_PREFIX = "CORONER_"


def packaged_dir(name: str) -> Path:
    """A directory shipped inside the wheel as package `bot.<name>` (`playbooks`, `migrations`, ...)."""
    return Path(str(resources.files(f"bot.{name}")))


class SettingsError(CoronerError):
    """A missing or invalid setting; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///coroner.db",
        description="SQLAlchemy URL. SQLite file by default; postgresql+psycopg://... in production.",
    )
    kubeconfig: Path | None = Field(default=None, description="kubeconfig path; unset = in-cluster or ~/.kube/config.")
    kube_context: str | None = Field(default=None, description="kubeconfig context to use.")
    node_proxy_enabled: bool = Field(
        default=False,
        description="Read the kubelet summary API through nodes/proxy (needs the opt-in RBAC binding).",
    )
    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb- token for the Web API.")
    slack_app_token: SecretStr | None = Field(default=None, description="xapp- token for Socket Mode.")
    slack_signing_secret: SecretStr | None = Field(default=None, description="Verifies Slack's requests.")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL.")
    diagnose_concurrency: int = Field(
        default=4, ge=1, description="Slack /diagnose runs at once; more wait in a queue (the acks never do)."
    )
    pagerduty_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated V3 webhook secrets; several are accepted while a secret rotates.",
    )
    playbooks_dir: Path = Field(default_factory=lambda: packaged_dir("playbooks"), description="Playbook YAML files.")
    templates_dir: Path | None = Field(default=None, description="Overrides the packaged postmortem templates.")
    catalog_file: Path | None = Field(default=None, description="Service catalog YAML.")
    image_source: Literal["registry", "docker"] = Field(
        default="registry", description="How images are read: OCI registry over HTTP, or the Docker engine."
    )
    registry_username: str | None = Field(default=None, description="Registry user for bearer-token auth.")
    registry_password: SecretStr | None = Field(default=None, description="Registry password or token.")
    image_platform: str = Field(
        default="linux/amd64", description="Platform picked from a multi-arch image index (os/arch)."
    )
    image_byte_budget: int = Field(
        default=8 << 30, gt=0, description="Most layer bytes one autopsy downloads from a registry."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")

    @field_validator("pagerduty_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("playbooks_dir", "templates_dir", "catalog_file", "kubeconfig")
    @classmethod
    def _must_exist(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError(f"{value} does not exist")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite: or postgresql+psycopg:")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment; raise `SettingsError` with one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
