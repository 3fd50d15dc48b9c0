"""The `user` label: an email, a keyed hash of it, or nothing at all."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache


class UserLabeler:
    """Maps a member's email to the value of the ``user`` label, per ``--metrics.user-label``."""

    def __init__(self, mode: str = "email", hash_key: bytes | None = None) -> None:
        if mode == "hash" and not hash_key:
            raise ValueError("hash mode needs a secret key")
        self.mode = mode
        self._key = hash_key
        self.label = lru_cache(maxsize=65536)(self._label)

    @property
    def enabled(self) -> bool:
        """False when per-user families are switched off."""
        return self.mode != "none"

    def _label(self, email: str) -> str:
        if self.mode == "hash":
            # Keyed, so nobody can confirm a guessed address by hashing it themselves.
            return hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:16]
        return email
