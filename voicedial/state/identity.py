"""The phone_hash key: one per Redis, so that every process and machine on it hashes a number
the same way. A contact's id, the shared do-not-call set and duplicate checks all rest on the
hash; two keys on one Redis would import the same people twice and miss their opt-outs.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from voicedial.errors import ConfigError
from voicedial.state.keys import PHONE_HASH_KEY

__all__ = ["shared_hash_key"]


async def shared_hash_key(redis: Redis, proposed: bytes | None) -> bytes:
    """The key this Redis keeps, set to `proposed` (else a new random key) on first use.

    Raises ConfigError when `proposed` differs from the key Redis already keeps."""
    await redis.set(PHONE_HASH_KEY, proposed or secrets.token_hex(32).encode(), nx=True)
    kept = await redis.get(PHONE_HASH_KEY)
    if kept is None:  # only if someone deleted it between the two commands
        raise ConfigError("the phone_hash key vanished from Redis while being read: run again")
    key = kept if isinstance(kept, bytes) else str(kept).encode()
    if proposed is not None and proposed != key:
        raise ConfigError(
            "VOICEDIAL_PHONE_HASH_KEY (or VOICEDIAL_HOME/phone_hash.key) differs from the key "
            "this Redis was first used with: numbers would hash differently and people could be "
            "called again. Unset it (or remove the file) to use the shared key"
        )
    return key
