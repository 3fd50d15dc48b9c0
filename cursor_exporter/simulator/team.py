"""Deterministic synthetic Cursor team: its roster and its usage events.

Events are generated per UTC hour from ``random.Random(f"{seed}:{hour}")`` and
memoised (as ``hours.Hour``), so every query, in any order, sees exactly the same events. Each
event also carries its arrival delay and its (optional) cost revision; the
simulator decides from the clock what is visible and which value is current.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .catalog import CURSOR_TOKEN_FEE_CENTS_PER_TOKEN, MODELS
from .draws import poisson, random_uuid
from .events import (
    KIND_ABORTED,
    KIND_ERRORED,
    KIND_INCLUDED,
    KIND_USAGE_BASED,
    KIND_USER_API_KEY,
    TokenUsage,
    UsageEvent,
)
from .hours import Hour
from .memo import Memo
from .roster import Member, Persona, ServiceAccount, make_members, make_service_accounts
from .units import HOUR_MS, utc_weekday


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

EventFields = dict[str, Any]
"""A ``UsageEvent``'s keyword arguments but its ``sequence``, which is known once its hour is sorted."""


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
        pinned: Callable[[int], list[int]] | None = None,
    ) -> None:
        self.seed = seed
        self._pinned = pinned
        self.events_per_user_per_day = events_per_user_per_day
        self.late_arrivals = late_arrivals
        self.revisions = revisions
        rng = random.Random(f"{seed}:team")
        self.domain = rng.choice(("acme-robotics.dev", "northwind.io", "globex.com"))
        self.members = make_members(rng, users, epoch_ms, self.domain)
        self.service_accounts = make_service_accounts(rng)
        self.members_by_email = {m.email: m for m in self.members}
        self._hours: Memo[int, Hour] = Memo(lambda hour: Hour(self._generate_hour(hour)))

    def hour(self, hour: int) -> Hour:
        """UTC hour number ``hour`` with all its events (visible or not)."""
        return self._hours(hour)

    def hours_between(self, start_ms: int, end_ms: int) -> Iterator[Hour]:
        """The hours from the one containing ``start_ms`` to the one containing ``end_ms``, oldest first."""
        for hour in range(start_ms // HOUR_MS, end_ms // HOUR_MS + 1):
            yield self._hours(hour)

    def events_in_hour(self, hour: int) -> tuple[UsageEvent, ...]:
        """All events (visible or not) whose timestamp falls in UTC hour number ``hour``."""
        return self._hours(hour).events

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
        drafts: list[tuple[int, EventFields]] = []
        for member in self.members:
            local_ms = hour_start + member.persona.utc_offset_h * HOUR_MS
            weight = hour_activity_weight((local_ms // HOUR_MS) % 24, utc_weekday(local_ms))
            mean = self.events_per_user_per_day * member.persona.activity * 7 * weight / _WEEKLY_WEIGHT
            count = poisson(rng, mean)
            context = _HourContext()
            for _ in range(count):
                ts = hour_start + rng.randrange(HOUR_MS)
                event = self._member_event(rng, ts, member, week, context)
                if member.is_member_at(ts):
                    drafts.append((ts, event))
        for account in self.service_accounts:
            active = (hour % 24) in account.active_utc_hours
            if account.weekdays_only and utc_weekday(hour_start) >= 5:
                active = False
            count = poisson(rng, account.events_per_hour if active else 0.0)
            context = _HourContext(automation_id=random_uuid(rng))
            for _ in range(count):
                ts = hour_start + rng.randrange(HOUR_MS)
                drafts.append((ts, self._service_account_event(rng, ts, account, week, context)))
        twins = []
        for ts, event in drafts:
            # Genuine same-millisecond repeats: same timestamp, user and model, fresh tokens/cost.
            if rng.random() < 0.004:
                member = self.members_by_email.get(event["email"])
                if member is not None:
                    twin = self._member_event(rng, ts, member, week, _HourContext(), model=event["model"])
                    twins.append((ts, twin))
        drafts.extend(twins)
        if self._pinned is not None:
            drafts.extend(self._pinned_events(hour, week))
        drafts.sort(key=lambda item: item[0])  # stable: same-ms events keep generation order
        return tuple(UsageEvent(sequence=seq, **fields) for seq, (_, fields) in enumerate(drafts))

    def _pinned_events(self, hour: int, week: int) -> Iterator[tuple[int, EventFields]]:
        """Usage-based events at the timestamps ``pinned`` asks for in this hour, by the first member then."""
        rng = random.Random(f"{self.seed}:{hour}:pinned")  # its own stream: the hour's other events stay as they were
        for ts in self._pinned(hour) if self._pinned else ():
            member = next((m for m in self.members if m.is_member_at(ts)), None)
            if member is not None:
                model = self._pick_model(rng, member.persona, week)
                yield ts, self._costed_event(rng, ts, member.email, member.index, model, KIND_USAGE_BASED)

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
    ) -> EventFields:
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
            context.cloud_agent_id = context.cloud_agent_id or random_uuid(rng)
            extras.update(cloud_agent_id=context.cloud_agent_id, hosting_type="CLOUD", is_headless=True)
        elif agent_roll < 0.04:
            context.automation_id = context.automation_id or random_uuid(rng)
            hosting = rng.choice(("CLOUD", "CLOUD", "SELF_HOSTED", "SELF_HOSTED_POOL"))
            extras.update(automation_id=context.automation_id, hosting_type=hosting, is_headless=True)
        elif agent_roll < 0.07:
            extras.update(is_headless=True)  # headless CLI run: no agent id
        else:
            if not context.conversations or rng.random() < 0.25:
                context.conversations.append(random_uuid(rng))
            if rng.random() < 0.92:
                extras.update(conversation_id=rng.choice(context.conversations))
        return self._costed_event(rng, ts, member.email, member.index, model, kind, **extras)

    def _service_account_event(
        self, rng: random.Random, ts: int, account: ServiceAccount, week: int, context: _HourContext
    ) -> EventFields:
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
    ) -> EventFields:
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
        return dict(
            timestamp_ms=ts,
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
