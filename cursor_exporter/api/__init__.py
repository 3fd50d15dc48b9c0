"""The API edge: the read-only HTTP client, its rate limits, and the typed records parsed at the edge."""
