"""The Lua scripts in `voicedial/state/lua/`, loaded once per client and called with EVALSHA."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["Scripts"]


@cache
def _source(name: str) -> str:
    return resources.files("voicedial.state").joinpath(f"lua/{name}.lua").read_text()


class Scripts:
    """Registered scripts of one Redis client (redis-py retries NOSCRIPT with the source)."""

    def __init__(self, redis: Redis) -> None:
        self.pace: AsyncScript = redis.register_script(_source("pace"))
        self.import_: AsyncScript = redis.register_script(_source("import"))
        self.claim: AsyncScript = redis.register_script(_source("claim"))
        self.release: AsyncScript = redis.register_script(_source("release"))
        self.progress: AsyncScript = redis.register_script(_source("progress"))
        self.finish: AsyncScript = redis.register_script(_source("finish"))
        self.settle_read: AsyncScript = redis.register_script(_source("settle_read"))
        self.dialled: AsyncScript = redis.register_script(_source("dialled"))
        self.turn: AsyncScript = redis.register_script(_source("turn"))
        self.view: AsyncScript = redis.register_script(_source("view"))
