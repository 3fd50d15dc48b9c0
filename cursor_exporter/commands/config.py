"""Configuration: one pydantic-settings model fed by flags, environment and an optional TOML file.

Precedence, highest first: command-line flags, ``CURSOR_EXPORTER_*`` environment variables
(plus ``CURSOR_API_KEY``, ``CURSOR_API_KEY_FILE`` and ``CURSOR_API_URL``), the TOML file named by
``--config.file``, then the defaults below. Every field becomes a flag in the Prometheus exporter
convention: ``storage_path`` is ``--storage.path``, ``sync_usage_interval`` is ``--sync.usage-interval``.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cursor_exporter.commands.config_values import (
    ConfigError,
    Duration,
    TeamKey,
    TeamSource,
    flag_name,
    normalise_log_level,
    parse_pairs,
    read_hash_key,
    read_model_map,
    read_pairs_file,
    read_secret,
    read_user_mapping,
)
from cursor_exporter.ledger.paths import ledger_path
from cursor_exporter.sources import SOURCES, SWITCHABLE
from cursor_exporter.sources.base import BillingSettings, SourceOptions

# Keys on the command line end up in shell history and `ps`, so only the environment and files carry
# them; lists and tables have no flag form and come from the config file (or JSON in the environment).
NOT_A_FLAG_FIELDS = frozenset({"api_key", "org_api_key", "teams", "budget_groups"})
CURSOR_ENVIRONMENT = {
    "CURSOR_API_KEY": "api_key",
    "CURSOR_API_KEY_FILE": "api_key_file",
    "CURSOR_API_URL": "api_url",
    "CURSOR_ORG_API_KEY": "org_api_key",
    "CURSOR_ORG_API_KEY_FILE": "org_api_key_file",
}

_config_file: ContextVar[Path | None] = ContextVar("config_file", default=None)


class _CursorEnvironment(PydanticBaseSettingsSource):
    """The three unprefixed variables Cursor users already know."""

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the base class
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {field: os.environ[env] for env, field in CURSOR_ENVIRONMENT.items() if os.environ.get(env)}


class _GeneralSettings(BaseSettings):
    """The settings that are not a source's own; :data:`Settings` adds each source's switch and interval."""

    model_config = SettingsConfigDict(env_prefix="CURSOR_EXPORTER_", extra="forbid", validate_default=True)

    api_url: str = Field("https://api.cursor.com", description="Cursor API base URL.")
    api_key: SecretStr | None = Field(
        None, description="Admin API key. Without one `serve` exits 2 and says how to set it (`demo` needs none)."
    )
    api_key_file: Path | None = Field(None, description="File holding the API key, e.g. a Kubernetes secret mount.")
    teams: list[TeamKey] = Field(
        default_factory=list,
        description="Several teams in one exporter (config file `[[teams]]` with name and api_key_file): "
        "each gets its own rate limits and ledger, and every family a `team` label.",
    )
    org_api_key: SecretStr | None = Field(
        None,
        description="Organization API key (Enterprise): enables the pooled-usage and organization usage families.",
    )
    org_api_key_file: Path | None = Field(None, description="File holding the organization API key.")
    org_id: str | None = Field(None, description="Organization id (`org_…`) the organization key belongs to.")
    api_rate_limit_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of Cursor's per-team rate limit this exporter may use; other tools share the rest.",
    )
    api_timeout: Duration = Field(30.0, description="Deadline of one API request: connect, headers and whole body.")
    api_max_response_bytes: int = Field(64 << 20, gt=0, description="Largest API response body; a bigger one fails.")
    api_max_retries: int = Field(5, ge=0, le=20, description="Retries of a 429, 5xx or timed-out request.")

    web_listen_address: str = Field(":9773", description="Address to serve metrics on, host:port.")
    web_telemetry_path: str = Field("/metrics", description="Path of the metrics endpoint.")
    web_config_file: Path | None = Field(
        None,
        description="exporter-toolkit web config (YAML): TLS, bcrypt basic-auth users, response headers; "
        "applies to every endpoint; docs/security.md.",
    )
    web_disable_metrics: bool = Field(
        False, description="Serve no metrics endpoint (push-only sidecar with OTLP); health endpoints stay."
    )

    storage_path: Path = Field(Path("./state"), description="Directory of the SQLite ledger (WAL mode).")

    storage_retention: Duration = Field(
        400 * 86400.0, ge=40 * 86400, description="Usage hours older than this leave the ledger; counters keep them."
    )
    sync_settle_lookback: Duration = Field(172800.0, description="Usage hours younger than this are fetched again.")
    sync_end_delay: Duration = Field(60.0, description="Usage windows end this far in the past, never at 'now'.")

    metrics_user_label: Literal["email", "hash", "domain", "none"] = Field(
        "email",
        description="The `user` label: the email, a keyed hash of it, the email's domain, "
        "or none (no per-user families).",
    )
    metrics_user_hash_key_file: Path | None = Field(
        None, description="File holding the secret key of --metrics.user-label=hash."
    )

    metrics_top_users: int = Field(
        0,
        ge=0,
        description="Cap per-user series to this many users (the biggest spenders, kept for good so counters "
        'never fall); the rest are summed into user="__other__". 0 = no cap.',
    )
    metrics_per_user_activity: bool = Field(
        False, description="Also export per-user daily-activity families (opt-in: U more series each)."
    )
    metrics_model_map_file: Path | None = Field(
        None,
        description='TOML file of model-name normalisations: `"raw-name-or-glob*" = "label"`, first match wins.',
    )
    metrics_user_mapping_file: Path | None = Field(
        None,
        description="CSV with an `email` column and any others (team, cost_center, ...): exported as "
        "cursor_user_info for joins.",
    )

    billing_seat_price_usd: Decimal | None = Field(
        None, ge=0, description="Monthly price of one paid seat; enables the seat-cost families."
    )
    budget_team_monthly_usd: Decimal | None = Field(None, ge=0, description="Team budget per billing cycle.")
    budget_user_default_usd: Decimal | None = Field(None, ge=0, description="Default budget per user per cycle.")
    budget_groups: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Budgets per billing group or mapped team, by name (config file or JSON in the environment).",
    )

    otlp_endpoint: str | None = Field(
        None,
        description="OTLP collector URL, e.g. http://collector:4318 (http/protobuf adds /v1/metrics) or "
        "http://collector:4317 (grpc); setting it turns the push on.",
    )
    otlp_protocol: Literal["http/protobuf", "grpc"] = Field("http/protobuf", description="OTLP transport.")
    otlp_headers: str | None = Field(
        None, description="Headers of every push, `key=value,key=value` (URL-encoded values), e.g. a tenant id."
    )
    otlp_headers_file: Path | None = Field(
        None, description="File holding secret headers (vendor tokens) in the same format, one or more per line."
    )
    otlp_interval: Duration = Field(60.0, description="How often the latest snapshot is pushed.")
    otlp_resource_attributes: str | None = Field(
        None,
        description="Extra resource attributes, `key=value,key=value`; may override service.name and "
        "service.instance.id.",
    )

    log_level: Annotated[Literal["debug", "info", "warn", "error"], BeforeValidator(normalise_log_level)] = Field(
        "info", description="Lowest level logged (case-insensitive; warning is read as warn)."
    )
    log_format: Literal["logfmt", "json"] = Field("logfmt", description="Log line format.")

    @field_validator("web_telemetry_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value in ("/", "/-/healthy", "/-/ready"):
            raise ValueError("must start with / and not clash with /, /-/healthy or /-/ready")
        return value

    @field_validator("otlp_headers", "otlp_resource_attributes")
    @classmethod
    def _pairs(cls, value: str | None) -> str | None:
        parse_pairs(value)
        return value

    @field_validator("api_url", "otlp_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://localhost:4318")
        return value

    @field_validator("api_timeout", "otlp_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0s")
        return value

    @field_validator("web_listen_address")
    @classmethod
    def _address(cls, value: str) -> str:
        _, colon, port = value.rpartition(":")
        if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port or :port, e.g. :9773")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _GeneralSettings:
        if self.metrics_user_label == "hash" and self.metrics_user_hash_key_file is None:
            raise ValueError("--metrics.user-label=hash needs --metrics.user-hash-key-file")
        names = [team.name for team in self.teams]
        if len(set(names)) != len(names):
            raise ValueError("team names in [[teams]] must be unique")
        if self.has_org_key and not self.org_id:
            raise ValueError("an organization key needs --org.id (the org_… id it belongs to)")
        for source in SOURCES:
            if source.interval_s is not None and self.sync_interval(source.name) < source.min_interval[0]:
                seconds, reason = source.min_interval
                raise ValueError(f"{flag_name(f'sync_{source.name}_interval')} must be at least {seconds:g}s; {reason}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, _CursorEnvironment(settings_cls)]
        config_file = _config_file.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def listen_host_port(self) -> tuple[str, int]:
        """The listen address split into host (``""`` = all interfaces) and port."""
        host, _, port = self.web_listen_address.rpartition(":")
        return host.strip("[]"), int(port)

    def enabled_sources(self) -> tuple[str, ...]:
        """Names of the sources switched on (``--collector.<name>``), in registry order."""
        return tuple(name for name in SWITCHABLE if getattr(self, f"collector_{name}"))

    def polled_sources(self, organization: bool) -> tuple[str, ...]:
        """The enabled sources that poll the API; those of the organization key only when ``organization``."""
        return tuple(
            source.name
            for source in SOURCES
            if source.interval_s is not None
            and getattr(self, f"collector_{source.name}")
            and (organization or not source.organization)
        )

    def sync_interval(self, source: str) -> float | None:
        """Seconds between two syncs of ``source``, also the longest one sync may run (None: never fetches)."""
        return getattr(self, f"sync_{source}_interval", None)

    @property
    def has_org_key(self) -> bool:
        """True when an organization key is configured."""
        return self.org_api_key is not None or self.org_api_key_file is not None

    def source_options(self) -> SourceOptions:
        """The configuration sources read, as plain values."""
        return SourceOptions(
            settle_lookback_ms=int(self.sync_settle_lookback * 1000),
            end_delay_ms=int(self.sync_end_delay * 1000),
            retention_ms=int(self.storage_retention * 1000),
            top_users=self.metrics_top_users,
            org_id=self.org_id,
            billing=self.billing(),
            user_mapping=MappingProxyType(self.resolve_user_mapping()),
        )

    def resolve_org_api_key(self) -> str | None:
        """The organization key from CURSOR_ORG_API_KEY or its file; None when not configured."""
        return read_secret(self.org_api_key, self.org_api_key_file, "organization api key file")

    def billing(self) -> BillingSettings:
        """Seat price and budgets for the snapshot."""
        return BillingSettings(
            seat_price_usd=self.billing_seat_price_usd,
            team_budget_usd=self.budget_team_monthly_usd,
            user_default_budget_usd=self.budget_user_default_usd,
            group_budgets_usd=MappingProxyType(dict(self.budget_groups)),
        )

    def team_sources(self) -> list[TeamSource] | None:
        """The teams to poll: every ``[[teams]]`` entry, else the single key; None means demo mode."""
        if self.teams:
            sources = []
            for team in self.teams:
                key = read_secret(team.api_key, team.api_key_file, f"team {team.name} api key file")
                if key is None:
                    raise ConfigError(f"team {team.name}: set api_key_file (or api_key) in [[teams]]")
                sources.append(TeamSource(team.name, team.api_url or self.api_url, key))
            return sources
        key = self.resolve_api_key()
        return None if key is None else [TeamSource(None, self.api_url, key)]

    def ledger_directory(self, team: str | None = None, organization: bool = False) -> Path:
        """The ledger ``--team NAME`` or ``--org`` selects, by the same rule ``serve`` stores it."""
        if organization:
            return ledger_path(self.storage_path, organization=True)
        names = [entry.name for entry in self.teams]
        if team is None and names:
            raise ConfigError(f"several teams are configured: name one with --team ({', '.join(names)})")
        if team is not None and team not in names:
            raise ConfigError(f"--team {team}: no such team in [[teams]] ({', '.join(names) or 'none configured'})")
        return ledger_path(self.storage_path, team=team)

    def team_source(self, team: str | None) -> TeamSource | None:
        """The key and URL of ``team`` (None: the single team's); None when no key is configured."""
        sources = self.team_sources() or []
        return next((source for source in sources if source.name == team), None)

    def resolve_api_key(self) -> str | None:
        """The API key from CURSOR_API_KEY, else from the key file; ``None`` means demo mode."""
        return read_secret(self.api_key, self.api_key_file, "api key file")

    def resolve_model_map(self) -> dict[str, str]:
        """The model-name map from ``--metrics.model-map-file`` (empty without one)."""
        return read_model_map(self.metrics_model_map_file)

    def resolve_user_mapping(self) -> dict[str, dict[str, str]]:
        """email -> {column: value} from ``--metrics.user-mapping-file`` (empty without one)."""
        return read_user_mapping(self.metrics_user_mapping_file)

    def resolve_otlp_headers(self) -> dict[str, str]:
        """Headers of the OTLP push: --otlp.headers, then those of --otlp.headers-file."""
        return {**parse_pairs(self.otlp_headers), **read_pairs_file(self.otlp_headers_file)}

    def resolve_user_hash_key(self) -> bytes | None:
        """The secret of ``--metrics.user-label=hash``, read from its file."""
        if self.metrics_user_label != "hash" or self.metrics_user_hash_key_file is None:
            return None
        return read_hash_key(self.metrics_user_hash_key_file)


def _source_fields() -> dict[str, Any]:
    """``sync_<name>_interval`` of every polling source and ``collector_<name>`` of every switchable one."""
    fields: dict[str, Any] = {}
    for source in SOURCES:
        if source.interval_s is not None:
            routes = ", ".join(dict.fromkeys(endpoint.path for endpoint in source.endpoints))
            description = f"How often the {source.name} source syncs ({routes})."
            fields[f"sync_{source.name}_interval"] = (Duration, Field(source.interval_s, description=description))
    for source in SOURCES:
        if source.switchable:
            fields[f"collector_{source.name}"] = (bool, Field(source.default_enabled, description=source.help))
    return fields


Settings = create_model(
    "Settings",
    __base__=_GeneralSettings,
    __doc__="Everything the exporter can be told. Field descriptions feed ``--help`` and the README table.",
    **_source_fields(),
)


def load_settings(overrides: dict[str, Any], config_file: Path | None = None) -> Settings:
    """Build the settings, turning any problem into a one-line :class:`ConfigError`."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"--config.file {config_file}: no such file")
    token = _config_file.set(config_file)
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"invalid config: unknown setting {first['loc'][0]!r}") from None
        where = f"{flag_name(str(first['loc'][0]))}: " if first["loc"] else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"invalid config: {where}{message}") from None
    except ValueError as error:
        raise ConfigError(f"invalid config file {config_file}: {error}") from None
    finally:
        _config_file.reset(token)
