import json
import logging
import re

import pytest

from cursor_exporter.commands.logs import configure_logging

RFC3339_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_logfmt_lines_quote_values_and_stamp_rfc3339_utc_milliseconds(capsys):
    configure_logging("info", "logfmt")
    logging.getLogger("cursor_exporter.sources.engine").warning("usage sync failed: %s", 'a "quoted" reason')
    logging.getLogger("cursor_exporter").debug("below the level")
    line = capsys.readouterr().err
    assert line.count("\n") == 1
    expected = r'level=warn logger=cursor_exporter.sources.engine msg="usage sync failed: a \\"quoted\\" reason"\n'
    assert re.fullmatch(rf"ts={RFC3339_MS} {expected}", line)


def test_json_lines_carry_the_same_fields(capsys):
    configure_logging("debug", "json")
    logging.getLogger("cursor_exporter").info("serving metrics on %s", "http://127.0.0.1:9773/metrics")
    record = json.loads(capsys.readouterr().err)
    assert re.fullmatch(RFC3339_MS, record.pop("ts"))
    assert record == {
        "level": "info",
        "logger": "cursor_exporter",
        "msg": "serving metrics on http://127.0.0.1:9773/metrics",
    }
