"""Hypothesis strategies of valid API rows, as the client decodes them (numbers as Decimal, never float),
anywhere within the records' bounds; the api and ledger property tests share them."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from cursor_exporter.api.records import MAX_COUNT, MAX_EPOCH_MS, MAX_EVENT_CENTS, MAX_TOKENS, MAX_TOTAL_CENTS
from cursor_exporter.sources.activity import COUNTERS

EMAIL = st.from_regex(r"[a-z0-9._]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True)
NAME = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=60)
EVENT_CENTS = st.decimals(min_value=0, max_value=Decimal(MAX_EVENT_CENTS) - 1, places=6)
TOTAL_CENTS = st.decimals(min_value=0, max_value=Decimal(MAX_TOTAL_CENTS) - 1, places=6)
TOKENS = st.integers(0, MAX_TOKENS - 1)
COUNT = st.integers(0, MAX_COUNT - 1)
EPOCH_MS = st.integers(0, MAX_EPOCH_MS)

VALID_EVENT = st.fixed_dictionaries(
    {
        "timestamp": EPOCH_MS.map(str),
        "userEmail": EMAIL,
        "model": NAME,
        "kind": NAME,
        "maxMode": st.booleans(),
        "requestsCosts": st.decimals(min_value=0, max_value=999_999, places=3),
        "chargedCents": EVENT_CENTS,
        "tokenUsage": st.fixed_dictionaries(
            {
                "inputTokens": TOKENS,
                "outputTokens": TOKENS,
                "cacheWriteTokens": TOKENS,
                "cacheReadTokens": TOKENS,
                "totalCents": EVENT_CENTS,
                "discountPercentOff": st.decimals(min_value=0, max_value=100, places=2),
            }
        ),
    },
    optional={"cursorTokenFee": EVENT_CENTS, "serviceAccountId": NAME, "teamId": st.integers(0, 10**9)},
)
VALID_DAILY_ROW = st.fixed_dictionaries(
    {"email": EMAIL, "date": EPOCH_MS, "isActive": st.booleans(), **dict.fromkeys(COUNTERS, COUNT)},
    optional={"clientVersion": NAME, "mostUsedModel": NAME},
)
VALID_MEMBER_SPEND = st.fixed_dictionaries(
    {"userId": st.integers(0, 10**9), "email": EMAIL, "spendCents": TOTAL_CENTS},
    optional={"overallSpendCents": TOTAL_CENTS, "effectivePerUserLimitDollars": st.decimals(0, 10**6, places=2)},
)
VALID_MEMBER = st.fixed_dictionaries(
    {"id": st.integers(0, 10**9), "email": EMAIL, "role": NAME, "isRemoved": st.booleans()}, optional={"name": NAME}
)
VALID_GROUP = st.fixed_dictionaries(
    {
        "id": NAME,
        "name": NAME,
        "memberCount": COUNT,
        "spendCents": TOTAL_CENTS,
        "currentMembers": st.lists(st.fixed_dictionaries({"email": EMAIL, "spendCents": TOTAL_CENTS}), max_size=3),
    }
)
