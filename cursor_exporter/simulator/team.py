"""Deterministic synthetic Cursor team: members, service accounts and usage events.

Events are generated per UTC hour from ``random.Random(f"{seed}:{hour}")`` and
memoised, so every query, in any order, sees exactly the same events. Each
event also carries its arrival delay and its (optional) cost revision; the
simulator decides from the clock what is visible and which value is current.
"""

from __future__ import annotations

import math
import random
import string
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

CURSOR_TOKEN_FEE_CENTS_PER_TOKEN = 0.000025  # $0.25 per 1M tokens
REVISION_AFTER_MS = 6 * HOUR_MS

KIND_INCLUDED = "Included in Business"
KIND_USAGE_BASED = "Usage-based"
KIND_ERRORED = "Errored, Not Charged"
KIND_USER_API_KEY = "User API Key"
KIND_ABORTED = "Aborted, Not Charged"
NOT_CHARGED_KINDS = frozenset({KIND_ERRORED, KIND_ABORTED, KIND_USER_API_KEY})

HOSTING_TYPES = ("CLOUD", "SELF_HOSTED", "SELF_HOSTED_POOL", "SELF_HOSTED_MACHINE")


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

FIRST_NAMES = (
    "Alex", "Sam", "Priya", "Jonas", "Mei", "Carlos", "Fatima", "Noah", "Ingrid", "Kenji",
    "Lucia", "Omar", "Hannah", "Dmitri", "Aisha", "Pierre", "Zoe", "Mateo", "Yuki", "Ravi",
    "Elena", "Tomas", "Grace", "Kwame", "Sofia", "Liam", "Nadia", "Felix", "Amara", "Jin",
)  # fmt: skip
LAST_NAMES = (
    "Keller", "Okafor", "Nguyen", "Schmidt", "Rossi", "Tanaka", "Haddad", "Larsen", "Patel", "Moreau",
    "Silva", "Kowalski", "Cohen", "Fischer", "Ivanova", "Mendes", "Brennan", "Sato", "Khan", "Dubois",
)  # fmt: skip
CLIENT_VERSIONS = ("1.7.54", "2.0.34", "2.1.17", "2.1.20")
EXTENSIONS = (".ts", ".tsx", ".py", ".go", ".rs", ".java", ".md", ".sql")


@dataclass(frozen=True)
class Persona:
    """How much and how someone uses Cursor."""

    name: str
    activity: float  # multiplier on events_per_user_per_day
    usage_based_share: float  # of billable events, how many are on-demand
    favourite_models: tuple[str, ...]
    utc_offset_h: int


@dataclass(frozen=True)
class Member:
    """A team member as the simulator knows them (superset of what any route serves)."""

    index: int
    string_id: str
    int_id: int
    name: str | None
    email: str
    role: str
    is_removed: bool
    joined_ms: int
    removed_ms: int | None
    persona: Persona
    monthly_limit_dollars: int | None
    hard_limit_override_dollars: int
    effective_limit_dollars: int | None
    client_version: str

    def is_member_at(self, ms: int) -> bool:
        return self.joined_ms <= ms and (self.removed_ms is None or ms < self.removed_ms)


@dataclass(frozen=True)
class ServiceAccount:
    """A service account; its events use a pseudo-user email and it is not a team member."""

    account_id: str
    name: str
    email: str
    active_utc_hours: frozenset[int]
    weekdays_only: bool
    events_per_hour: float


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    total_cents: float
    discount_percent_off: int | None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class UsageEvent:
    """One usage event with its hidden simulation state (arrival time and revision)."""

    timestamp_ms: int
    sequence: int  # generation order inside the hour; tie-breaker for same-ms events
    email: str
    member_index: int | None  # None for service-account events
    model: str
    kind: str
    max_mode: bool
    requests_costs: float
    is_chargeable: bool
    is_headless: bool
    charged_cents: float
    token_usage: TokenUsage | None = None
    cursor_token_fee: float | None = None
    conversation_id: str | None = None
    service_account_id: str | None = None
    service_account_name: str | None = None
    cloud_agent_id: str | None = None
    automation_id: str | None = None
    hosting_type: str | None = None
    visible_at_ms: int = 0
    revised_charged_cents: float | None = None
    revised_total_cents: float | None = None

    def is_revised_at(self, now_ms: int) -> bool:
        return self.revised_charged_cents is not None and now_ms >= self.timestamp_ms + REVISION_AFTER_MS

    def charged_cents_at(self, now_ms: int) -> float:
        """The chargedCents value the API serves at ``now_ms``."""
        if self.is_revised_at(now_ms):
            return self.revised_charged_cents  # type: ignore[return-value]
        return self.charged_cents

    def payload(self, now_ms: int, legacy_2025: bool = False) -> dict:
        """The event as ``/teams/filtered-usage-events`` serves it; optional keys are omitted."""
        revised = self.is_revised_at(now_ms)
        event: dict = {"timestamp": str(self.timestamp_ms), "userEmail": self.email}
        for key, value in (
            ("conversationId", self.conversation_id),
            ("serviceAccountId", self.service_account_id),
            ("serviceAccountName", self.service_account_name),
            ("cloudAgentId", self.cloud_agent_id),
            ("automationId", self.automation_id),
        ):
            if value is not None:
                event[key] = value
        event.update(
            model=self.model,
            kind=self.kind,
            maxMode=self.max_mode,
            requestsCosts=self.requests_costs,
            isTokenBasedCall=self.token_usage is not None,
        )
        if legacy_2025:
            event["isFreeBugbot"] = False
        else:
            event["isChargeable"] = self.is_chargeable
            event["isHeadless"] = self.is_headless
        if self.token_usage is not None:
            usage = self.token_usage
            total = self.revised_total_cents if revised and self.revised_total_cents is not None else None
            tokens: dict = {
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "cacheWriteTokens": usage.cache_write_tokens,
                "cacheReadTokens": usage.cache_read_tokens,
                "totalCents": usage.total_cents if total is None else total,
            }
            if usage.discount_percent_off is not None:
                tokens["discountPercentOff"] = usage.discount_percent_off
            event["tokenUsage"] = tokens
        if legacy_2025:
            event["cursorTokenFee"] = self.cursor_token_fee if self.cursor_token_fee is not None else 0
        else:
            event["chargedCents"] = self.charged_cents_at(now_ms)
            if self.cursor_token_fee is not None:
                event["cursorTokenFee"] = self.cursor_token_fee
        return event


@dataclass
class _HourContext:
    """Per-actor state within one generated hour (conversations and agent runs span events)."""

    conversations: list[str] = field(default_factory=list)
    cloud_agent_id: str | None = None
    automation_id: str | None = None


def hour_activity_weight(local_hour: int, weekday: int) -> float:
    """Relative activity for a local hour of the day and weekday (0 = Monday)."""
    if 9 <= local_hour <= 17:
        weight = 0.55 if local_hour == 12 else 1.0
    elif local_hour in (8, 18):
        weight = 0.45
    elif 19 <= local_hour <= 22:
        weight = 0.12
    else:
        weight = 0.02
    return weight * (0.08 if weekday >= 5 else 1.0)


_WEEKLY_WEIGHT = sum(hour_activity_weight(h, d) for d in range(7) for h in range(24))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _random_id(rng: random.Random, prefix: str, length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def _utc_weekday(ms: int) -> int:
    return (ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday


class Team:
    """The synthetic team for one seed; ``epoch_ms`` anchors join and removal dates."""

    def __init__(
        self,
        seed: int,
        users: int,
        events_per_user_per_day: float,
        epoch_ms: int,
        late_arrivals: bool = True,
        revisions: bool = True,
    ) -> None:
        self.seed = seed
        self.events_per_user_per_day = events_per_user_per_day
        self.late_arrivals = late_arrivals
        self.revisions = revisions
        rng = random.Random(f"{seed}:team")
        self.domain = rng.choice(("acme-robotics.dev", "northwind.io", "globex.com"))
        self.members = self._make_members(rng, users, epoch_ms)
        self.service_accounts = self._make_service_accounts(rng)
        self.members_by_email = {m.email: m for m in self.members}
        self._hours: dict[int, tuple[UsageEvent, ...]] = {}
        self._lock = threading.Lock()

    def _make_members(self, rng: random.Random, count: int, epoch_ms: int) -> list[Member]:
        removed = set(range(count - 2, count)) if count >= 8 else ({count - 1} if count >= 5 else set())
        idle = count - 3 if count >= 6 else None
        late_joiner = count - 4 if count >= 10 else None
        used_emails: set[str] = set()
        members = []
        for index in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}@{self.domain}".lower()
            suffix = 2
            while email in used_emails:
                email = f"{first}.{last}{suffix}@{self.domain}".lower()
                suffix += 1
            used_emails.add(email)
            role = "owner" if index in (0, 1) else "free-owner" if index == 2 else "member"
            persona = self._make_persona(rng, idle=index == idle)
            monthly = rng.choice((None, None, 100, 200, 500))
            override = rng.choice((0, 0, 0, 0, 150, 300))
            effective = override or monthly or rng.choice((250, 250, None))
            joined = epoch_ms - rng.randint(60, 400) * DAY_MS
            if index == late_joiner:
                joined = epoch_ms - 2 * DAY_MS + 9 * HOUR_MS
            members.append(
                Member(
                    index=index,
                    string_id=_random_id(rng, "user_", 26),
                    int_id=100_000 + rng.randint(0, 899_999) * 10 + index % 10,
                    name=None if index == 3 and count >= 5 else f"{first} {last}",
                    email=email,
                    role=role if index not in removed else "member",
                    is_removed=index in removed,
                    joined_ms=joined,
                    removed_ms=epoch_ms - 20 * DAY_MS if index in removed else None,
                    persona=persona,
                    monthly_limit_dollars=monthly,
                    hard_limit_override_dollars=override,
                    effective_limit_dollars=effective,
                    client_version=rng.choice(CLIENT_VERSIONS),
                )
            )
        return members

    @staticmethod
    def _make_persona(rng: random.Random, idle: bool) -> Persona:
        if idle:
            kind, activity, share = "idle", 0.0, 0.0
        else:
            kind, activity, share = rng.choices(
                (("heavy", 2.5, 0.55), ("regular", 1.0, 0.3), ("light", 0.3, 0.1)), weights=(2, 5, 3)
            )[0]
        favourites = (*rng.sample(sorted(MODELS), 3), "default")
        return Persona(kind, activity, share, favourites, rng.choice((-8, -5, 0, 1, 2, 5)))

    @staticmethod
    def _make_service_accounts(rng: random.Random) -> list[ServiceAccount]:
        return [
            ServiceAccount(
                _random_id(rng, "sa_", 12),
                "Nightly CI Agent",
                "nightly-ci@serviceaccount.cursor.com",
                frozenset({1, 2, 3}),
                weekdays_only=False,
                events_per_hour=4.0,
            ),
            ServiceAccount(
                _random_id(rng, "sa_", 12),
                "Release Bot",
                "release-bot@serviceaccount.cursor.com",
                frozenset({14, 15}),
                weekdays_only=True,
                events_per_hour=2.0,
            ),
        ]

    # -- events -----------------------------------------------------------------------------------

    def events_in_hour(self, hour: int) -> tuple[UsageEvent, ...]:
        """All events (visible or not) whose timestamp falls in UTC hour number ``hour``."""
        with self._lock:
            cached = self._hours.get(hour)
        if cached is None:
            cached = self._generate_hour(hour)
            with self._lock:
                cached = self._hours.setdefault(hour, cached)
        return cached

    def events_between(self, start_ms: int, end_ms: int) -> Iterator[UsageEvent]:
        """Events with ``start_ms <= timestamp <= end_ms``, oldest first."""
        if end_ms < start_ms:
            return
        for hour in range(start_ms // HOUR_MS, end_ms // HOUR_MS + 1):
            for event in self.events_in_hour(hour):
                if start_ms <= event.timestamp_ms <= end_ms:
                    yield event

    def _generate_hour(self, hour: int) -> tuple[UsageEvent, ...]:
        rng = random.Random(f"{self.seed}:{hour}")
        hour_start = hour * HOUR_MS
        week = hour // (24 * 7)
        drafts: list[tuple[int, UsageEvent]] = []
        for member in self.members:
            local_ms = hour_start + member.persona.utc_offset_h * HOUR_MS
            weight = hour_activity_weight((local_ms // HOUR_MS) % 24, _utc_weekday(local_ms))
            mean = self.events_per_user_per_day * member.persona.activity * 7 * weight / _WEEKLY_WEIGHT
            count = _poisson(rng, mean)
            context = _HourContext()
            for _ in range(count):
                ts = hour_start + rng.randrange(HOUR_MS)
                event = self._member_event(rng, ts, member, week, context)
                if member.is_member_at(ts):
                    drafts.append((ts, event))
        for account in self.service_accounts:
            active = (hour % 24) in account.active_utc_hours
            if account.weekdays_only and _utc_weekday(hour_start) >= 5:
                active = False
            count = _poisson(rng, account.events_per_hour if active else 0.0)
            context = _HourContext(automation_id=_uuid(rng))
            for _ in range(count):
                ts = hour_start + rng.randrange(HOUR_MS)
                drafts.append((ts, self._service_account_event(rng, ts, account, week, context)))
        twins = []
        for ts, event in drafts:
            # Genuine same-millisecond repeats: same timestamp, user and model, fresh tokens/cost.
            if rng.random() < 0.004:
                member = self.members_by_email.get(event.email)
                if member is not None:
                    twin = self._member_event(rng, ts, member, week, _HourContext(), model=event.model)
                    twins.append((ts, twin))
        drafts.extend(twins)
        drafts.sort(key=lambda item: item[0])  # stable: same-ms events keep generation order
        return tuple(_with_sequence(event, seq) for seq, (_, event) in enumerate(drafts))

    def _pick_model(self, rng: random.Random, persona: Persona, week: int) -> str:
        model = rng.choice(persona.favourite_models) if rng.random() < 0.8 else rng.choice(sorted(MODELS))
        modulus, remainder = MODELS[model].available_weeks
        return model if week % modulus == remainder else "default"

    def _member_event(
        self,
        rng: random.Random,
        ts: int,
        member: Member,
        week: int,
        context: _HourContext,
        model: str | None = None,
    ) -> UsageEvent:
        persona = member.persona
        model = model or self._pick_model(rng, persona, week)
        roll = rng.random()
        if roll < 0.04:
            kind = KIND_ERRORED
        elif roll < 0.05:
            kind = KIND_ABORTED
        elif roll < 0.065:
            kind = KIND_USER_API_KEY
        elif rng.random() < persona.usage_based_share:
            kind = KIND_USAGE_BASED
        else:
            kind = KIND_INCLUDED
        agent_roll = rng.random()
        extras: dict = {}
        if agent_roll < 0.03:
            context.cloud_agent_id = context.cloud_agent_id or _uuid(rng)
            extras.update(cloud_agent_id=context.cloud_agent_id, hosting_type="CLOUD", is_headless=True)
        elif agent_roll < 0.04:
            context.automation_id = context.automation_id or _uuid(rng)
            hosting = rng.choice(("CLOUD", "CLOUD", "SELF_HOSTED", "SELF_HOSTED_POOL"))
            extras.update(automation_id=context.automation_id, hosting_type=hosting, is_headless=True)
        elif agent_roll < 0.07:
            extras.update(is_headless=True)  # headless CLI run: no agent id
        else:
            if not context.conversations or rng.random() < 0.25:
                context.conversations.append(_uuid(rng))
            if rng.random() < 0.92:
                extras.update(conversation_id=rng.choice(context.conversations))
        return self._costed_event(rng, ts, member.email, member.index, model, kind, **extras)

    def _service_account_event(
        self, rng: random.Random, ts: int, account: ServiceAccount, week: int, context: _HourContext
    ) -> UsageEvent:
        model = rng.choice(("claude-4.5-sonnet", "gpt-5", "default", "composer-2.5-fast"))
        modulus, remainder = MODELS[model].available_weeks
        if week % modulus != remainder:
            model = "default"
        kind = KIND_ERRORED if rng.random() < 0.03 else KIND_USAGE_BASED
        extras: dict = {"is_headless": True}
        if account.name == "Nightly CI Agent":
            extras.update(automation_id=context.automation_id, hosting_type="CLOUD")
        return self._costed_event(
            rng,
            ts,
            account.email,
            None,
            model,
            kind,
            service_account_id=account.account_id,
            service_account_name=account.name,
            **extras,
        )

    def _costed_event(
        self,
        rng: random.Random,
        ts: int,
        email: str,
        member_index: int | None,
        model_name: str,
        kind: str,
        is_headless: bool = False,
        **extras,
    ) -> UsageEvent:
        model = MODELS[model_name]
        max_mode = rng.random() < 0.15
        token_based = rng.random() >= 0.08
        charged_kind = kind in (KIND_INCLUDED, KIND_USAGE_BASED)
        usage = None
        fee = None
        if token_based:
            input_tokens = int(rng.lognormvariate(7.5, 1.1))
            output_tokens = int(rng.lognormvariate(6.0, 0.9))
            cache_write = int(rng.lognormvariate(8.5, 1.0)) if rng.random() < 0.6 else 0
            cache_read = int(rng.lognormvariate(10.5, 1.0)) if rng.random() < 0.8 else 0
            if kind == KIND_ABORTED:
                output_tokens //= 5
            total_cents = (
                input_tokens * model.input_price
                + output_tokens * model.output_price
                + cache_write * model.cache_write_price
                + cache_read * model.cache_read_price
            ) / 10_000
            if max_mode:
                total_cents *= 1.2
            total_cents = round(total_cents, 5)
            if kind == KIND_USER_API_KEY or (kind == KIND_INCLUDED and rng.random() < 0.08):
                total_cents = 0  # paid elsewhere / promotional included usage, tokens still reported
            discount = rng.choice((10, 20, 25, 50)) if charged_kind and rng.random() < 0.08 else None
            usage = TokenUsage(input_tokens, output_tokens, cache_write, cache_read, total_cents, discount)
            if model.third_party and charged_kind:
                fee = usage.total_tokens * CURSOR_TOKEN_FEE_CENTS_PER_TOKEN
            charged = _charged_cents(usage.total_cents, discount, fee) if charged_kind else 0
            requests_costs = round(max(0.1, total_cents / 4.0), 1) if total_cents else 0.0
        else:
            requests_costs = rng.choice((0.5, 1, 1, 1.4, 2, 2.8, 5))
            charged = requests_costs * 4.0 if charged_kind else 0
        if max_mode:
            requests_costs = requests_costs * 2
        if kind == KIND_ERRORED and not requests_costs:
            requests_costs = 1

        # Drawn for every event so toggling late arrivals/revisions never shifts other events.
        delay_roll, delay_ms = rng.random(), rng.randrange(600_000)
        slow_delay_ms = rng.randrange(600_000, HOUR_MS)
        revision_roll, factor = rng.random(), round(rng.uniform(0.8, 1.2), 3)
        delay = (slow_delay_ms if delay_roll < 0.05 else delay_ms) if self.late_arrivals else 0
        revised_charged = revised_total = None
        if self.revisions and revision_roll < 0.02 and charged and factor != 1.0:
            if usage is not None and usage.total_cents:
                revised_total = round(usage.total_cents * factor, 5)
                revised_charged = _charged_cents(revised_total, usage.discount_percent_off, fee)
            else:
                revised_charged = charged * factor
        return UsageEvent(
            timestamp_ms=ts,
            sequence=0,
            email=email,
            member_index=member_index,
            model=model_name,
            kind=kind,
            max_mode=max_mode,
            requests_costs=requests_costs,
            is_chargeable=kind == KIND_USAGE_BASED,
            is_headless=is_headless,
            charged_cents=charged,
            token_usage=usage,
            cursor_token_fee=fee,
            visible_at_ms=ts + delay,
            revised_charged_cents=revised_charged,
            revised_total_cents=revised_total,
            **extras,
        )


def _charged_cents(total_cents: float, discount: int | None, fee: float | None) -> float:
    """chargedCents = totalCents * (1 - discount/100) + fee, in float like the real API."""
    return total_cents * (1 - (discount or 0) / 100) + (fee or 0)


def _with_sequence(event: UsageEvent, sequence: int) -> UsageEvent:
    return replace(event, sequence=sequence)
