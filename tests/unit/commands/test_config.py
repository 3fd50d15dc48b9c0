import subprocess
import sys

import pytest

from cursor_exporter.commands.cli import main
from cursor_exporter.commands.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--sync.usage-interval=soon"], "--sync.usage-interval: 'soon' is not a duration"),
        (["--sync.usage-interval=10s"], "--sync.usage-interval must be at least 60s"),
        (["--web.listen-address=9773"], "--web.listen-address: must be host:port"),
        (["--api.rate-limit-share=2"], "--api.rate-limit-share"),
        (["--metrics.user-label=hash"], "needs --metrics.user-hash-key-file"),
        (["--metrics.user-label=emails"], "--metrics.user-label"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--api.url=api.cursor.com"], "--api.url: must be an http:// or https:// URL"),
        (["--api.url=ftp://api.cursor.com"], "--api.url: must be an http:// or https:// URL"),
        (["--api.timeout=0"], "--api.timeout: must be more than 0s"),
        (["--sync.spend-interval=0"], "--sync.spend-interval must be at least 10s"),
        (["--metrics.model-map-file=/nonexistent/models.toml"], "model map file /nonexistent/models.toml"),
        (["--metrics.user-mapping-file=/nonexistent/users.csv"], "user mapping file /nonexistent/users.csv"),
        (["check", "--org.api-key-file=/nonexistent/org.key", "--org.id=org_x"], "organization api key file"),
    ],
)
def test_invalid_config_exits_2_with_one_line_naming_the_fix(argv, expected, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert err.count("\n") == 1


def test_missing_key_file_is_a_config_error_and_the_key_never_shows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CURSOR_API_KEY_FILE", str(tmp_path / "absent"))
    assert main(["check"]) == 2
    assert "api key file" in capsys.readouterr().err


def test_precedence_is_flags_then_environment_then_file(tmp_path, monkeypatch):
    config = tmp_path / "exporter.toml"
    config.write_text('sync_usage_interval = "20m"\nsync_spend_interval = "30m"\nsync_members_interval = "2h"\n')
    monkeypatch.setenv("CURSOR_EXPORTER_SYNC_SPEND_INTERVAL", "5m")
    settings = load_settings({"sync_members_interval": "90m"}, config)
    assert settings.sync_usage_interval == 1200
    assert settings.sync_spend_interval == 300
    assert settings.sync_members_interval == 5400


def test_cursor_variables_provide_key_and_url(tmp_path, monkeypatch):
    key_file = tmp_path / "key"
    key_file.write_text("crsr_from_file\n")
    monkeypatch.setenv("CURSOR_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("CURSOR_API_URL", "http://127.0.0.1:1")
    settings = load_settings({})
    assert settings.resolve_api_key() == "crsr_from_file"
    assert settings.api_url == "http://127.0.0.1:1"
    monkeypatch.setenv("CURSOR_API_KEY", "key_direct")
    assert load_settings({}).resolve_api_key() == "key_direct"
    assert "key_direct" not in repr(load_settings({}))


def test_unknown_config_file_key_is_rejected(tmp_path):
    config = tmp_path / "exporter.toml"
    config.write_text("sync_usage_intervall = 60\n")
    with pytest.raises(ConfigError, match="unknown setting 'sync_usage_intervall'"):
        load_settings({}, config)


def test_invalid_config_exits_before_binding_the_port():
    # A taken port would be a different error (exit 1); exit 2 proves validation ran first.
    result = subprocess.run(
        [sys.executable, "-m", "cursor_exporter", "--web.listen-address=:1", "--sync.usage-interval=x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("cursor-exporter: invalid config: --sync.usage-interval")


def test_serve_without_a_key_exits_2_with_one_line_and_never_runs_the_demo(monkeypatch, capsys):
    for name in ("CURSOR_API_KEY", "CURSOR_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CURSOR_API_KEY" in err and "cursor-exporter demo" in err


@pytest.mark.parametrize("flag", ["--api.key", "--org.api-key"])
def test_a_key_given_as_a_flag_is_refused_and_never_echoed(flag, capsys):
    assert main(["check", f"{flag}=crsr_very_secret"]) == 2
    err = capsys.readouterr().err
    assert "crsr_very_secret" not in err and "_FILE" in err and err.count("\n") == 1


def test_flags_are_never_abbreviated_and_a_mistyped_flags_value_is_not_echoed(capsys):
    try:
        code = main(["check", "--api.key-f=crsr_very_secret"])  # a prefix of --api.key-file
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and "unrecognized arguments: --api.key-f" in err and "crsr_very_secret" not in err


def test_each_command_takes_only_its_own_flags(capsys):
    try:
        code = main(["export", "--web.listen-address=:1"])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2 and "unrecognized arguments: --web.listen-address" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backfill", "--help"])
    help_text = capsys.readouterr().out
    assert "--seed-ledger" in help_text and "--group-by" not in help_text and "--web.listen-address" not in help_text
    assert "Default: 60.0. Env: CURSOR_EXPORTER_SYNC_END_DELAY." in " ".join(help_text.split())


@pytest.mark.parametrize(("given", "expected"), [("WARN", "warn"), ("Warning", "warn"), ("DEBUG", "debug")])
def test_log_levels_are_prometheus_names_in_any_case(given, expected):
    assert load_settings({"log_level": given}).log_level == expected
