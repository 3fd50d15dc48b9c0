"""``python -m cursor_exporter``: the command line."""

import sys

from cursor_exporter.commands.cli import main

sys.exit(main())
