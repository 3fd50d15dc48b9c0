"""Label policy: what the `user` and `model` labels say, the per-user cardinality cap, and the bound on
the length of every label value."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Collection, Mapping
from fnmatch import fnmatchcase
from functools import lru_cache

log = logging.getLogger(__name__)
OTHER_USER = "__other__"
MAX_LABEL_LENGTH = 256
_DIGEST_CHARS = 16


class LabelTruncations:
    """Cuts label values longer than ``MAX_LABEL_LENGTH`` and counts each distinct one once.

    A cut value keeps its start and ends in ``~`` and a hash of the whole, so that two long values that
    share a start stay two series instead of becoming a duplicate sample.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[bytes] = set()

    @property
    def count(self) -> int:
        """Distinct label values cut so far."""
        with self._lock:
            return len(self._seen)

    def bound(self, value: str) -> str:
        """``value``, or its bounded form when it is too long."""
        if len(value) <= MAX_LABEL_LENGTH:
            return value
        digest = hashlib.blake2b(value.encode(errors="surrogatepass"), digest_size=_DIGEST_CHARS // 2)
        with self._lock:
            if not self._seen:
                log.warning("label values longer than %d characters are cut and counted", MAX_LABEL_LENGTH)
            self._seen.add(digest.digest())
        return f"{value[: MAX_LABEL_LENGTH - _DIGEST_CHARS - 1]}~{digest.hexdigest()}"


TRUNCATIONS = LabelTruncations()
"""The process's one tally: every family's label values pass through it (see :meth:`Family.new`)."""


def bounded(value: str) -> str:
    """A label value of at most ``MAX_LABEL_LENGTH`` characters, counted in ``TRUNCATIONS`` when cut."""
    return TRUNCATIONS.bound(value)


def truncated_values() -> int:
    """Distinct label values ``bounded`` has cut in this process."""
    return TRUNCATIONS.count


class LabelPolicy:
    """Maps emails and model names to label values, per the ``--metrics.*`` settings.

    ``user_mode`` is ``email``, ``hash`` (keyed HMAC-SHA256, 16 hex characters), ``domain`` (the part
    after ``@``) or ``none`` (no per-user families). ``model_map`` maps raw model names, or glob
    patterns such as ``claude-4.5-sonnet*``, to a normalised name; the first match wins.
    ``per_user_activity`` opts in to the per-user daily-activity families.
    """

    def __init__(
        self,
        user_mode: str = "email",
        hash_key: bytes | None = None,
        model_map: Mapping[str, str] | None = None,
        per_user_activity: bool = False,
    ) -> None:
        if user_mode == "hash" and not hash_key:
            raise ValueError("hash mode needs a secret key")
        self.user_mode = user_mode
        self.per_user_activity = per_user_activity and user_mode != "none"
        self._key = hash_key
        self._exact = {k: v for k, v in (model_map or {}).items() if not any(c in k for c in "*?[")}
        self._patterns = [(k, v) for k, v in (model_map or {}).items() if k not in self._exact]
        self._user = lru_cache(maxsize=65536)(self._user_label)
        self.model = lru_cache(maxsize=4096)(self._model_label)

    @property
    def per_user(self) -> bool:
        """False when per-user families are switched off."""
        return self.user_mode != "none"

    def user(self, email: str, tracked: Collection[str] | None = None) -> str:
        """The ``user`` label of ``email``; users outside ``tracked`` (the top-N cap) fold into __other__."""
        if tracked is not None and email not in tracked:
            return OTHER_USER
        return self._user(email)

    def _user_label(self, email: str) -> str:
        if self.user_mode == "hash":
            # Keyed, so nobody can confirm a guessed address by hashing it themselves.
            return hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:16]
        if self.user_mode == "domain":
            return email.rpartition("@")[2] or email
        return email

    def _model_label(self, model: str) -> str:
        if model in self._exact:
            return self._exact[model]
        for pattern, name in self._patterns:
            if fnmatchcase(model, pattern):
                return name
        return model
