"""The commands: serve (default), demo, check, simulate, backfill and export, and their configuration."""
