"""Object storage for profiles, transcripts and the audit trail: `file://` or `s3://`.

One small interface (`put_bytes`, `get_bytes`, `list_keys`) so the rest of voicedial never knows
which store it writes to. Keys are '/'-separated paths under the configured root or prefix.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from voicedial.errors import ConfigError, StorageError

__all__ = ["FileStorage", "S3Storage", "Storage", "open_storage"]


class Storage(ABC):
    """Where voicedial keeps what a call produced."""

    url: str

    @abstractmethod
    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Write one object (replacing it if present)."""

    @abstractmethod
    async def get_bytes(self, key: str) -> bytes:
        """Read one object; StorageError if missing."""

    @abstractmethod
    async def list_keys(self, prefix: str = "") -> list[str]:
        """Keys under a prefix, sorted."""

    async def put_json(self, key: str, value: Any) -> None:
        """Write a JSON document."""
        body = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False).encode()
        await self.put_bytes(key, body, "application/json")

    async def get_json(self, key: str) -> Any:
        """Read a JSON document."""
        return json.loads(await self.get_bytes(key))


class FileStorage(Storage):
    """A directory tree; each write goes to a temporary file renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"key escapes the storage root: {key}")
        return path

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await asyncio.to_thread(self._write, key, data)
        except OSError as exc:
            raise StorageError(f"cannot write {key} under {self.root}: {exc}") from exc

    async def get_bytes(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except OSError as exc:
            raise StorageError(f"cannot read {key} under {self.root}: {exc}") from exc

    async def list_keys(self, prefix: str = "") -> list[str]:
        def walk() -> list[str]:
            if not self.root.exists():
                return []
            out = []
            for path in self.root.rglob("*"):
                rel = path.relative_to(self.root).as_posix()
                if path.is_file() and not path.name.startswith(".tmp-") and rel.startswith(prefix):
                    out.append(rel)
            return sorted(out)

        return await asyncio.to_thread(walk)


class S3Storage(Storage):
    """An S3 bucket and prefix through boto3 (credential chain, S3_ENDPOINT_URL, its retries)."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}"
        # botocore's standard retries; the attempt count comes from boto3's usual settings
        # (AWS_MAX_ATTEMPTS, ~/.aws/config), default 3. A failed write is not lost: the outbox
        # retries it later.
        config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=20)
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(
                self._s3.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot write s3://{self.bucket}/{self._key(key)}: {exc}") from exc

    async def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = await asyncio.to_thread(
                self._s3.get_object, Bucket=self.bucket, Key=self._key(key)
            )
            return await asyncio.to_thread(obj["Body"].read)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read s3://{self.bucket}/{self._key(key)}: {exc}") from exc

    async def list_keys(self, prefix: str = "") -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        def walk() -> list[str]:
            out: list[str] = []
            paginator = self._s3.get_paginator("list_objects_v2")
            full = self._key(prefix)
            strip = len(self.prefix) + 1 if self.prefix else 0
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                out.extend(item["Key"][strip:] for item in page.get("Contents", []))
            return sorted(out)

        try:
            return await asyncio.to_thread(walk)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc


def open_storage(url: str, *, endpoint_url: str | None = None) -> Storage:
    """A storage for `file:///path`, `file://./relative` or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        raw = unquote(parsed.netloc + parsed.path)
        return FileStorage(Path(raw).expanduser().absolute())
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"VOICEDIAL_STORAGE_URL {url!r}: no bucket")
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    raise ConfigError(f"VOICEDIAL_STORAGE_URL {url!r}: use s3://bucket/prefix or file:///path")
