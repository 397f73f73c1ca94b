"""Configuration: the only reader of `os.environ`. Every variable is `CORONER_<FIELD>`.

`load_settings()` turns pydantic's multi-line validation report into one line that names the variable,
because that line is what an operator sees when the bot refuses to start.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ports import CoronerError

if TYPE_CHECKING:
    from bot.images.mirrors import Mirror
    from bot.images.registry_auth import Credential

ENV_PREFIX = "CORONER_"
# An HMAC key shorter than this is guessable offline from one signed link.
WEB_SECRET_MIN_LENGTH = 32


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
    rollback_enabled: bool = Field(
        default=False,
        description="Offer the rollback button in Slack when the diagnosis recommends a rollback (needs the "
        "opt-in rollback Role in the service's namespace).",
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
    pagerduty_api_token: SecretStr | None = Field(
        default=None,
        description="PagerDuty REST API key; unset = no note write-back, no Acknowledge/Resolve buttons, no log enrichment.",
    )
    pagerduty_api_url: str = Field(
        default="https://api.pagerduty.com", description="PagerDuty REST API base URL (tests point it at a double)."
    )
    pagerduty_from_email: str | None = Field(
        default=None, description="Email of the PagerDuty user the bot writes notes as (the From header)."
    )
    playbooks_dir: Path = Field(default_factory=lambda: packaged_dir("playbooks"), description="Playbook YAML files.")
    templates_dir: Path | None = Field(default=None, description="Overrides the packaged postmortem templates.")
    catalog_file: Path | None = Field(default=None, description="Service catalog YAML.")
    image_source: Literal["registry", "docker"] = Field(
        default="registry", description="How images are read: OCI registry over HTTP, or the Docker engine."
    )
    registry_auth: SecretStr | None = Field(
        default=None,
        description="Registry credentials by host: JSON {host: {username, password}}, a Docker config.json, "
        "or the path of one. Each credential is sent to its own host only.",
    )
    registry_token_realms: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated token-service origins (https://auth.example.net) that may receive a "
        "registry's credentials besides its own origin and HTTPS hosts of its own domain.",
    )
    registry_host: str | None = Field(
        default=None, description="The registry host[:port] that CORONER_REGISTRY_USERNAME/PASSWORD belong to."
    )
    registry_username: str | None = Field(default=None, description="Registry user, for CORONER_REGISTRY_HOST only.")
    registry_password: SecretStr | None = Field(default=None, description="Registry password or token.")
    registry_mirrors: str | None = Field(
        default=None,
        description="Pull-through caches: comma-separated registry=URL (registry.internal:5000=http://127.0.0.1:5001); "
        "a registry's images are read from its mirror, with the mirror host's credentials.",
    )
    image_platform: str = Field(
        default="linux/amd64", description="Platform picked from a multi-arch image index (os/arch)."
    )
    image_byte_budget: int = Field(
        default=8 << 30, gt=0, description="Most layer bytes one autopsy downloads from a registry."
    )
    slack_default_channel: str | None = Field(
        default=None, description="Channel for incidents whose service has no slack_channel in the catalog."
    )
    diagnosis_coalesce_seconds: int = Field(
        default=120, ge=0, description="Incidents of one service triggered this close together share one diagnosis."
    )
    workers: int = Field(default=4, ge=1, le=64, description="Job worker threads per `coroner serve` process.")
    check_concurrency: int = Field(
        default=16, ge=1, le=256, description="Checks running at once in one process, across all diagnoses."
    )
    reviewers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Slack user ids (U…) and user-group ids (S…) allowed to approve and roll back.",
    )
    web_secret: SecretStr | None = Field(
        default=None, description="Signs the postmortem web view's links; unset = the web view is off."
    )
    public_url: str = Field(
        default="http://localhost:8080", description="Base URL of this bot as people reach it; links in Slack start with it."
    )
    web_link_ttl_seconds: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long a signed postmortem link stays valid."
    )
    gate_mode: Literal["deny", "warn", "off"] = Field(
        default="deny",
        description="The admission gate: deny a failing image change, only warn, or off. A namespace's "
        "label coroner.dev/gate-mode overrides it (docs/admission.md).",
    )
    gate_deadline_seconds: float = Field(
        default=2.0, gt=0, le=4.5,
        description="The admission webhook answers within this; an image not yet read is allowed with a "
        "warning then (fail-open) and its autopsy goes on in the background.",
    )
    gate_max_growth: float = Field(
        default=1.5, gt=1, description="The admission gate fails an image that grew to this many times the "
        "image it replaces, and by at least CORONER_GATE_MIN_GROWTH_BYTES.",
    )
    gate_min_growth_bytes: int = Field(
        default=100_000_000, ge=0, description="The growth in bytes below which the admission gate lets any "
        "growth factor pass.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Log level of every command; -v raises it to INFO, -vv to DEBUG."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one readable line per record; json: one JSON object per line."
    )

    @field_validator("pagerduty_webhook_secrets", "reviewers", "registry_token_realms", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("registry_auth")
    @classmethod
    def _registry_auth_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from bot.images.registry_auth import load_registry_auth

            load_registry_auth(value.get_secret_value())  # RegistryAuthError is a ValueError, without secrets
        return value

    @field_validator("registry_mirrors")
    @classmethod
    def _registry_mirrors_parse(cls, value: str | None) -> str | None:
        from bot.images.mirrors import parse_mirrors

        parse_mirrors(value)  # MirrorError is a ValueError naming the entry
        return value

    def registry_mirror_map(self) -> dict[str, Mirror]:
        """CORONER_REGISTRY_MIRRORS by registry host (validated when the settings were read)."""
        from bot.images.mirrors import parse_mirrors

        return parse_mirrors(self.registry_mirrors)

    @field_validator("registry_username")
    @classmethod
    def _username_has_a_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A password without a host used to go to every registry that asked, and to their token services.
        if value and not info.data.get("registry_host"):
            raise ValueError(
                "set CORONER_REGISTRY_HOST to the registry these credentials belong to (they go to no other), "
                "or use CORONER_REGISTRY_AUTH"
            )
        return value

    def registry_credentials(self) -> dict[str, Credential]:
        """CORONER_REGISTRY_AUTH's credentials, plus the USERNAME/PASSWORD pair for CORONER_REGISTRY_HOST."""
        from bot.images.registry_auth import Credential, RegistryAuthError, load_registry_auth

        try:
            credentials = load_registry_auth(self.registry_auth.get_secret_value()) if self.registry_auth else {}
        except RegistryAuthError as exc:  # the file changed since the settings were read
            raise SettingsError(f"{ENV_PREFIX}REGISTRY_AUTH: {exc}") from None
        if self.registry_username and self.registry_host:
            password = self.registry_password.get_secret_value() if self.registry_password else ""
            credentials[self.registry_host] = Credential(self.registry_username, password)
        return credentials

    @field_validator("playbooks_dir", "templates_dir", "catalog_file", "kubeconfig")
    @classmethod
    def _must_exist(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError(f"{value} does not exist")
        return value

    @field_validator("web_secret")
    @classmethod
    def _strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never quotes the value: it is a secret even when it is a bad one.
        if value is not None and len(value.get_secret_value()) < WEB_SECRET_MIN_LENGTH:
            raise ValueError(f"must be at least {WEB_SECRET_MIN_LENGTH} characters")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError("must be an http:// or https:// base URL without query or fragment")
        return value.rstrip("/")

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
