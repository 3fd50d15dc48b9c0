"""The output: rendered exposition parts, the web server, and the OTLP push."""
