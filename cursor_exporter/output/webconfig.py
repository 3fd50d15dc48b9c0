"""``--web.config.file``: TLS, basic auth and response headers, in Prometheus exporter-toolkit's format.

```yaml
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS12            # or TLS13
  client_auth_type: RequireAndVerifyClientCert   # mutual TLS, with client_ca_file
  client_ca_file: clients.pem
basic_auth_users:
  prometheus: $2b$12$...        # bcrypt hash of the password
http_server_config:
  headers:
    X-Frame-Options: deny
```

Relative paths are read beside the file. The file (and the certificates it names) is read again when
it changes; a change that does not load keeps the last good configuration and logs one line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import bcrypt
import yaml

log = logging.getLogger(__name__)

TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Forbidden as headers: they would break the exchange or the security exporter-toolkit promises.
MAX_VERIFIED = 1024
TLS_FILES = ("cert_file", "key_file", "client_ca_file")
RESERVED_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "www-authenticate"})


class WebConfigError(ValueError):
    """The web config file cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class WebConfig:
    """What the web server enforces: TLS (None: plain HTTP), users and their bcrypt hashes, headers."""

    tls: ssl.SSLContext | None = None
    users: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    headers: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    files: tuple[Path, ...] = ()  # the certificate, key and CA files it was loaded from, watched for changes


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{where} must be a mapping")
    return value


def _tls_context(section: dict, base: Path) -> ssl.SSLContext | None:
    if not section:
        return None
    unknown = set(section) - {"cert_file", "key_file", "min_version", "client_auth_type", "client_ca_file"}
    if unknown:
        raise WebConfigError(f"tls_server_config: unknown key {sorted(unknown)[0]!r}")
    if not section.get("cert_file") or not section.get("key_file"):
        raise WebConfigError("tls_server_config needs cert_file and key_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    version = section.get("min_version", "TLS12")
    if version not in TLS_VERSIONS:
        raise WebConfigError(f"tls_server_config.min_version must be one of {', '.join(TLS_VERSIONS)}")
    context.minimum_version = TLS_VERSIONS[version]
    try:
        context.load_cert_chain(base / section["cert_file"], base / section["key_file"])
    except (OSError, ssl.SSLError) as error:
        raise WebConfigError(f"tls_server_config: cannot load cert_file and key_file: {error}") from None
    auth = section.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(f"tls_server_config.client_auth_type must be one of {', '.join(CLIENT_AUTH)}")
    context.verify_mode = CLIENT_AUTH[auth]
    if section.get("client_ca_file"):
        try:
            context.load_verify_locations(base / section["client_ca_file"])
        except (OSError, ssl.SSLError) as error:
            raise WebConfigError(f"tls_server_config: cannot load client_ca_file: {error}") from None
    elif auth == "RequireAndVerifyClientCert":
        raise WebConfigError("tls_server_config: RequireAndVerifyClientCert needs client_ca_file")
    return context


def load_web_config(path: Path) -> WebConfig:
    """Parse and check the file; raises :class:`WebConfigError` with one line that says what to fix."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise WebConfigError(f"--web.config.file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise WebConfigError(f"--web.config.file {path}: not YAML: {str(error).splitlines()[0]}") from None
    try:
        document = _mapping(document, "the file")
        unknown = set(document) - {"tls_server_config", "basic_auth_users", "http_server_config"}
        if unknown:
            raise WebConfigError(f"unknown key {sorted(unknown)[0]!r}")
        users_section = _mapping(document.get("basic_auth_users"), "basic_auth_users")
        users = {str(user): str(hashed).encode() for user, hashed in users_section.items()}
        for user, hashed in users.items():
            if not hashed.startswith((b"$2a$", b"$2b$", b"$2y$")):
                raise WebConfigError(f"basic_auth_users.{user} must be a bcrypt hash (htpasswd -nBC 10 {user})")
        http = _mapping(document.get("http_server_config"), "http_server_config")
        headers = {str(k): str(v) for k, v in _mapping(http.get("headers"), "http_server_config.headers").items()}
        reserved = [name for name in headers if name.lower() in RESERVED_HEADERS]
        if reserved:
            raise WebConfigError(f"http_server_config.headers may not set {reserved[0]}")
        tls_section = _mapping(document.get("tls_server_config"), "tls_server_config")
        tls = _tls_context(tls_section, path.parent)
    except WebConfigError as error:
        raise WebConfigError(f"--web.config.file {path}: {error}") from None
    files = tuple(path.parent / tls_section[key] for key in TLS_FILES if tls_section.get(key))
    return WebConfig(tls, MappingProxyType(users), MappingProxyType(headers), files)


class WebConfigWatcher:
    """The current :class:`WebConfig` of a file, read again when the file or a file it names changes."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, bytes], bool] = {}
        self._config = WebConfig() if path is None else load_web_config(path)
        self._stamp = self._files_stamp()

    def _files_stamp(self) -> tuple:
        if self._path is None:
            return ()
        stamps = []
        for path in (self._path, *self._config.files):
            try:
                stat = os.stat(path)
            except OSError:
                stamps.append(None)
            else:
                stamps.append((stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    @property
    def current(self) -> WebConfig:
        """The configuration in force, reloaded first when a file changed."""
        with self._lock:
            stamp = self._files_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._config = load_web_config(self._path)
                    self._verified.clear()
                    log.info("reloaded %s", self._path)
                except WebConfigError as error:
                    log.warning("%s; keeping the previous web configuration", error)
            return self._config

    def authorized(self, config: WebConfig, user: str, password: str) -> bool:
        """True when the password matches the user's bcrypt hash (verified once per credential pair)."""
        hashed = config.users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(hashed + b"\0" + password.encode()).digest())
        if key not in self._verified:  # bcrypt is slow on purpose: verify a pair once, not on every scrape
            if len(self._verified) >= MAX_VERIFIED:  # a stream of wrong passwords must not grow memory
                self._verified.clear()
            self._verified[key] = bcrypt.checkpw(password.encode(), hashed)
        return self._verified[key]
