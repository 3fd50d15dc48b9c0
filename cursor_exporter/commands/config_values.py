"""The configuration's value types, and the files it names: secrets, the model map, the user mapping
and header lists.

Each reader turns any problem into one :class:`ConfigError` line that names the file and never
quotes a secret.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line that says what to fix."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a duration string such as ``90s``, ``10m``, ``48h`` or ``2d``."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; use a number of seconds or e.g. 30s, 10m, 48h, 2d")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


@dataclass(frozen=True)
class TeamSource:
    """One Cursor team to poll: its key and API URL, and its ``team`` label (None for a single team)."""

    name: str | None
    api_url: str
    api_key: str


class TeamKey(BaseModel):
    """One entry of ``[[teams]]`` in the config file: a team polled with its own key and rate limits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Value of the `team` label.")
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_url: str | None = None


# Flags spelled as every Prometheus exporter spells them, rather than by the rule below.
FLAG_NAMES = {"web_config_file": "--web.config.file"}


def flag_name(field: str) -> str:
    """``sync_usage_interval`` -> ``--sync.usage-interval``."""
    if field in FLAG_NAMES:
        return FLAG_NAMES[field]
    group, _, rest = field.partition("_")
    return f"--{group}.{rest.replace('_', '-')}" if rest else f"--{group}"


def normalise_log_level(value: Any) -> Any:
    """``WARN``, ``Warning`` -> ``warn``: levels as Prometheus writes them, in any case."""
    if not isinstance(value, str):
        return value
    level = value.strip().lower()
    return "warn" if level == "warning" else level


def parse_pairs(text: str | None) -> dict[str, str]:
    """``key=value,key=value`` as in ``OTEL_EXPORTER_OTLP_HEADERS``; values are URL-decoded."""
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"{item.strip()!r} is not key=value")
        pairs[key.strip()] = unquote(value.strip())
    return pairs


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret given directly, else read from its file; None when neither is set."""
    if value is not None and value.get_secret_value().strip():
        return value.get_secret_value().strip()
    if file is None:
        return None
    try:
        secret = file.read_text().strip()
    except OSError as error:
        raise ConfigError(f"{what} {file}: {error.strerror}") from None
    if not secret:
        raise ConfigError(f"{what} {file} is empty")
    return secret


def read_model_map(path: Path | None) -> dict[str, str]:
    """Model-name normalisations from a TOML file (empty without one)."""
    if path is None:
        return {}
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"model map file {path}: {error}") from None
    if not all(isinstance(value, str) for value in table.values()):
        raise ConfigError(f"model map file {path}: every value must be a string")
    return table


def read_user_mapping(path: Path | None) -> dict[str, dict[str, str]]:
    """email -> {column: value} from a CSV with an ``email`` column (empty without one)."""
    if path is None:
        return {}
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error) as error:
        raise ConfigError(f"user mapping file {path}: {error}") from None
    if not rows or "email" not in rows[0]:
        raise ConfigError(f"user mapping file {path}: needs a header with an email column")
    bad = [column for column in rows[0] if not re.fullmatch(r"[a-z_][a-z0-9_]*", column or "")]
    if bad:
        raise ConfigError(f"user mapping file: column {bad[0]!r} is not a valid label name (lower_snake_case)")
    return {
        row["email"].strip().lower(): {k: (v or "").strip() for k, v in row.items() if k != "email"}
        for row in rows
        if row.get("email")
    }


def read_pairs_file(path: Path | None) -> dict[str, str]:
    """Secret ``key=value`` pairs, one or more per line (empty without a file)."""
    if path is None:
        return {}
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"otlp headers file {path}: {error.strerror}") from None
    try:
        return parse_pairs(text.replace("\n", ","))
    except ValueError:
        # The message would quote the file's content, which is secret.
        raise ConfigError(f"otlp headers file {path}: not key=value lines") from None


def read_hash_key(path: Path) -> bytes:
    """The secret of ``--metrics.user-label=hash``: at least 16 bytes."""
    try:
        key = path.read_bytes().strip()
    except OSError as error:
        raise ConfigError(f"user hash key file {path}: {error.strerror}") from None
    if len(key) < 16:
        raise ConfigError("user hash key file must hold at least 16 bytes of secret")
    return key
