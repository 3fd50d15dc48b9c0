"""What the simulated team works with: models and their prices, client versions, file types, repos."""

from __future__ import annotations

from dataclasses import dataclass

CURSOR_TOKEN_FEE_CENTS_PER_TOKEN = 0.000025  # $0.25 per 1M tokens


@dataclass(frozen=True)
class ModelInfo:
    """Prices in dollars per million tokens; ``third_party`` models carry the Cursor token fee."""

    name: str
    input_price: float
    output_price: float
    cache_write_price: float
    cache_read_price: float
    third_party: bool
    available_weeks: tuple[int, int] = (1, 0)  # (modulus, remainder): present when week % m == r


MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("claude-4.5-sonnet", 3.0, 15.0, 3.75, 0.30, True),
        ModelInfo("claude-4-sonnet-thinking", 3.0, 15.0, 3.75, 0.30, True, (3, 1)),
        ModelInfo("claude-4.1-opus", 15.0, 75.0, 18.75, 1.50, True, (2, 1)),
        ModelInfo("gpt-5", 1.25, 10.0, 1.25, 0.125, True),
        ModelInfo("gpt-5-high", 1.25, 10.0, 1.25, 0.125, True, (2, 0)),
        ModelInfo("default", 1.25, 6.0, 1.25, 0.25, True),  # Auto, routed to third-party models
        ModelInfo("composer-2.5-fast", 1.25, 10.0, 0.0, 0.125, False),
        ModelInfo("gemini-2.5-pro", 1.25, 10.0, 1.625, 0.31, True),
        ModelInfo("o3", 2.0, 8.0, 0.0, 0.50, True, (3, 0)),
        ModelInfo("grok-code-fast-1", 0.20, 1.50, 0.0, 0.02, True, (4, 2)),
    )
}

CLIENT_VERSIONS = ("1.7.54", "2.0.34", "2.1.17", "2.1.20")
EXTENSIONS = (".ts", ".tsx", ".py", ".go", ".rs", ".java", ".md", ".sql")
REPO_NAMES = ("acme/api", "acme/web", "acme/mobile", "acme/infra", "acme/data-pipeline", "acme/docs")
