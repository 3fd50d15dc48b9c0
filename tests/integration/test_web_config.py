"""--web.config.file with a real TLS client: basic auth on every endpoint, headers, reload, bad files."""

from __future__ import annotations

import os
import ssl
import subprocess
import time

import bcrypt
import httpx
import pytest

from cursor_exporter.commands.cli import main
from cursor_exporter.output.exposition import ExpositionCache, render
from cursor_exporter.output.web import MetricsServer
from cursor_exporter.output.webconfig import WebConfigWatcher
from cursor_exporter.sources.exporter import EXPORTER_BUILD_INFO


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def self_signed(key, crt, subject: str, *extra: str) -> None:
    """A self-signed certificate and its key, valid for two days."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        subject,
        *extra,
        "-keyout",
        str(key),
        "-out",
        str(crt),
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by openssl."""
    folder = tmp_path_factory.mktemp("tls")
    self_signed(folder / "server.key", folder / "server.crt", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    return folder


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_config(folder, users: dict[str, str]) -> None:
    path = folder / "web.yml"
    lines = ["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key", "basic_auth_users:"]
    lines += [f"  {user}: {hashed(password)}" for user, password in users.items()]
    lines += ["http_server_config:", "  headers:", "    X-Frame-Options: deny"]
    previous = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(previous + 2_000_000_000, previous + 2_000_000_000))  # a visible change, however fast


@pytest.fixture
def server(certificate):
    write_config(certificate, {"prometheus": "s3cret"})
    cache = ExpositionCache()
    family = EXPORTER_BUILD_INFO.new()
    family.add_metric(("1", "unknown", "3.11", "live"), 1)
    cache.publish(render([family]), b"<html>landing</html>", ready=True)
    server = MetricsServer("127.0.0.1", 0, cache, "/metrics", WebConfigWatcher(certificate / "web.yml"))
    server.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ssl.create_default_context(cafile=certificate / "server.crt")
    server.shutdown()
    server.server_close()


def test_every_endpoint_needs_the_password_over_tls_and_carries_the_headers(server):
    url, ca = server
    for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
        assert httpx.get(url + path, verify=ca, timeout=30).status_code == 401
        assert httpx.get(url + path, verify=ca, auth=("prometheus", "wrong"), timeout=30).status_code == 401
        good = httpx.get(url + path, verify=ca, auth=("prometheus", "s3cret"), timeout=30)
        assert good.status_code == 200 and good.headers["X-Frame-Options"] == "deny"
    denied = httpx.get(url + "/metrics", verify=ca, timeout=30)
    assert denied.headers["WWW-Authenticate"] == 'Basic realm="cursor-exporter"'
    assert "cursor_exporter_build_info" in httpx.get(url + "/metrics", verify=ca, auth=("prometheus", "s3cret")).text
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port gets no answer
        httpx.get(url.replace("https://", "http://") + "/metrics", timeout=30)


def test_a_changed_file_is_read_again(server, certificate):
    url, ca = server
    write_config(certificate, {"grafana": "n3w"})
    deadline = time.monotonic() + 300
    while httpx.get(url + "/metrics", verify=ca, auth=("grafana", "n3w"), timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the new user was never accepted"
        time.sleep(0.05)
    assert httpx.get(url + "/metrics", verify=ca, auth=("prometheus", "s3cret"), timeout=30).status_code == 401


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice must be a bcrypt hash"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "cannot load cert_file"),
        ("tls_config: {}\n", "unknown key 'tls_config'"),
        ("basic_auth_users: [\n", "not YAML"),
    ],
)
def test_a_bad_web_config_file_exits_2_with_one_line(tmp_path, monkeypatch, capsys, content, expected):
    monkeypatch.setenv("CURSOR_API_KEY", "crsr_unused_here")
    (tmp_path / "web.yml").write_text(content)
    assert main(["serve", f"--web.config.file={tmp_path / 'web.yml'}", f"--storage.path={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "crsr_unused_here" not in err


def test_mutual_tls_admits_only_clients_with_a_certificate_from_the_ca(certificate, tmp_path):
    ca_key, ca_crt, client_key, client_csr, client_crt = (
        tmp_path / name for name in ("ca.key", "ca.crt", "client.key", "client.csr", "client.crt")
    )
    self_signed(ca_key, ca_crt, "/CN=clients")
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=prometheus",
        "-keyout",
        str(client_key),
        "-out",
        str(client_csr),
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(client_csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        str(client_crt),
    )
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {certificate / 'server.crt'}\n  key_file: {certificate / 'server.key'}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca_crt}\n"
    )
    server = MetricsServer("127.0.0.1", 0, ExpositionCache(), "/metrics", WebConfigWatcher(config))
    server.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/-/healthy"
    trusted = ssl.create_default_context(cafile=certificate / "server.crt")
    try:
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, verify=trusted, timeout=30)
        trusted.load_cert_chain(client_crt, client_key)
        assert httpx.get(url, verify=trusted, timeout=30).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
