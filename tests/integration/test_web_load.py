"""The metrics server under load and abuse, over real loopback sockets.

Idle and half-sent connections hold no thread and block no probe; a client that goes away costs one
debug line; the HTTP exchange itself (keep-alive, HEAD, bad heads) still follows the protocol.
"""

from __future__ import annotations

import http.client
import logging
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cursor_exporter.output import web
from cursor_exporter.output.exposition import ExpositionCache, Part, Rendered
from cursor_exporter.output.web import MetricsServer
from cursor_exporter.output.webconfig import WebConfigWatcher

from .conftest import HANG_GUARD_S
from .test_web_config import self_signed

IDLE_CONNECTIONS = 1_000
BIG_SERIES = 200_000  # ~7 MB of text: far more than a narrow receive window, so a reader can leave mid-body
ROOT = Path(__file__).resolve().parents[2]


def exposition(series: int) -> Rendered:
    text = b"".join(b'cursor_load_test_series{index="%d"} 1.0\n' % i for i in range(series))
    return Rendered.join([Part(b"# TYPE cursor_load_test_series gauge\n" + text, text)])


@pytest.fixture(scope="module")
def big_cache() -> ExpositionCache:
    cache = ExpositionCache()
    cache.publish(exposition(BIG_SERIES), b"<html>landing</html>", ready=True)
    return cache


def serving(cache: ExpositionCache, web_config: WebConfigWatcher | None = None):
    server = MetricsServer("127.0.0.1", 0, cache, "/metrics", web_config)
    server.start()
    return server


@pytest.fixture
def server(big_cache):
    running = serving(big_cache)
    yield running
    running.shutdown()
    running.server_close()


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S)


def allow_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_a_thousand_idle_connections_hold_no_thread_and_probes_still_answer(big_cache):
    allow_open_files(2 * IDLE_CONNECTIONS + 512)  # both ends of every connection live in this process
    before = threads()
    server = serving(big_cache)
    port = server.server_address[1]
    held = [connect(port) for _ in range(IDLE_CONNECTIONS)]
    try:
        for index, sock in enumerate(held):
            if index % 2:  # half of them send half a request head and stop
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        base = f"http://127.0.0.1:{port}"
        # Connections are accepted in order: once these answer, the server holds every one above.
        assert httpx.get(base + "/-/healthy", timeout=HANG_GUARD_S).text == "Healthy\n"
        metrics = httpx.get(base + "/metrics", timeout=HANG_GUARD_S)
        assert metrics.status_code == 200 and metrics.content == big_cache.rendered.text
        assert threads() <= before + 1 + web.AUTH_WORKERS
    finally:
        for sock in held:
            sock.close()
        server.shutdown()
        server.server_close()


def test_connections_that_send_nothing_or_half_a_head_are_closed_without_an_answer(server, monkeypatch):
    monkeypatch.setattr(web, "HEAD_TIMEOUT_S", 0.2)
    silent, half = connect(server.server_address[1]), connect(server.server_address[1])
    half.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ")
    assert silent.recv(1) == b"" and half.recv(1) == b""
    silent.close()
    half.close()
    assert httpx.get(f"http://127.0.0.1:{server.server_address[1]}/-/healthy", timeout=HANG_GUARD_S).status_code == 200


def test_at_the_connection_limit_the_longest_idle_connection_makes_room(big_cache, monkeypatch):
    monkeypatch.setattr(web, "MAX_CONNECTIONS", 8)
    server = serving(big_cache)
    port = server.server_address[1]
    idle = [connect(port) for _ in range(20)]
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=HANG_GUARD_S).text == "Ready\n"
        assert idle[0].recv(1) == b""  # the oldest made room for the newer ones and the probe
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def tls_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tls-load")
    self_signed(folder / "server.key", folder / "server.crt", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    (folder / "web.yml").write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    return folder


def reset_mid_body(sock: socket.socket) -> None:
    """Ask for the whole exposition, read a little of it, then reset the connection."""
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def narrow_connection(port: int) -> socket.socket:
    """A connection with a small receive window, so the server cannot hand the kernel the whole body."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.settimeout(HANG_GUARD_S)
    sock.connect(("127.0.0.1", port))
    return sock


def closed_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == web.__name__ and "closed:" in r.getMessage()]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_client_that_leaves_mid_response_costs_one_debug_line_and_no_traceback(
    big_cache, tls_config, tls, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    server = serving(big_cache, WebConfigWatcher(tls_config / "web.yml" if tls else None))
    port = server.server_address[1]
    trusted = ssl.create_default_context(cafile=tls_config / "server.crt")
    try:
        sock = narrow_connection(port)
        if tls:
            sock = trusted.wrap_socket(sock, server_hostname="127.0.0.1")
            with connect(port) as plain:  # plain HTTP to the TLS port: its handshake fails
                plain.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        reset_mid_body(sock)
        drops = 2 if tls else 1
        wait_until(lambda: len(closed_records(caplog)) >= drops, "the server never noticed the client leave")
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/-/healthy"
        assert httpx.get(url, verify=trusted if tls else True, timeout=HANG_GUARD_S).is_success
    finally:
        server.shutdown()
        server.server_close()
    assert len(closed_records(caplog)) == drops
    assert all(record.levelno == logging.DEBUG for record in closed_records(caplog))
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.WARNING]
    assert "Traceback" not in capfd.readouterr().err


def exchange(port: int, request: bytes) -> bytes:
    """Everything the server sends for ``request`` until it closes the connection."""
    with connect(port) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_the_http_exchange_keeps_alive_answers_head_and_refuses_what_it_cannot_read(server):
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD_S)
    for path, status in (("/-/healthy", 200), ("/nowhere", 404), ("/-/ready?x=1", 200)):
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == status and response.getheader("Connection") is None
        response.read()
    connection.request("HEAD", "/metrics")
    head = connection.getresponse()
    assert int(head.getheader("Content-Length")) == len(server.cache.rendered.text) and head.read() == b""
    connection.close()

    http10 = exchange(port, b"GET /-/healthy HTTP/1.0\r\n\r\n")  # no keep-alive asked: closed after one answer
    assert http10.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in http10
    assert http10.endswith(b"\r\n\r\nHealthy\n")
    pipelined = exchange(port, b"GET /-/healthy HTTP/1.1\r\n\r\nGET /-/ready HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert pipelined.count(b"HTTP/1.1 200 OK") == 2 and pipelined.endswith(b"Ready\n")
    assert exchange(port, b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}").startswith(b"HTTP/1.1 405 ")
    assert exchange(port, b"SSH-2.0-OpenSSH_9.6\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    huge = b"GET / HTTP/1.1\r\nX-Padding: " + b"a" * (2 * web.MAX_HEAD_BYTES) + b"\r\n\r\n"
    assert exchange(port, huge).startswith(b"HTTP/1.1 431 ")


def test_the_switch_interval_is_short_only_while_a_connection_is_handshaking_or_being_answered(server):
    resting = min(web._INTERPRETER_SWITCH_INTERVAL_S, web.SWITCH_INTERVAL_S)

    def short() -> bool:  # the interpreter keeps whole microseconds: 50 us reads back as 4.9999...e-05
        return sys.getswitchinterval() == pytest.approx(web.ANSWERING_SWITCH_INTERVAL_S)

    assert sys.getswitchinterval() == resting
    port = server.server_address[1]
    first, second = narrow_connection(port), connect(port)  # first cannot take a whole /metrics answer at once
    wait_until(short, "a new connection did not shorten the switch interval")
    first.sendall(b"GET /-/healthy HTTP/1.1\r\n\r\n")
    assert first.recv(65536).startswith(b"HTTP/1.1 200 OK")
    second.close()  # once the server sees it gone, no connection waits for a first request or an answer
    wait_until(lambda: sys.getswitchinterval() == resting, "answered and kept alive, idle: not back to resting")
    first.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")  # seven megabytes into a 16 kB window we do not read
    wait_until(short, "a request on a kept-alive connection did not shorten it")
    time.sleep(0.2)
    assert short()  # the answer is still being sent
    first.close()
    wait_until(lambda: sys.getswitchinterval() == resting, "the reader left: not back to resting")


def test_the_load_benchmark_runs_in_quick_mode():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "p99" in result.stdout and "threads" in result.stdout
