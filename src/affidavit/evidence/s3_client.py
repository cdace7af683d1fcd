"""The S3 side of :mod:`.s3`: ``s3://`` locations, a boto3 client, one-line errors.

boto3 is the ``[s3]`` extra; without it :func:`connect` says which extra to install.
Any S3-compatible store works through ``endpoint_url``. Credentials come from boto3's usual
chain (environment, shared files, instance role); Affidavit never reads or prints them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from affidavit.errors import InputError

# Bucket names as S3 allows them (3-63 of a-z 0-9 . -, starting and ending alphanumeric).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MISSING = frozenset(
    {"404", "NoSuchKey", "NotFound", "NoSuchVersion", "ObjectLockConfigurationNotFoundError"}
)


class S3Error(InputError):
    """The store refused or could not be reached; the message names the URL."""


@dataclass(frozen=True, slots=True)
class Location:
    bucket: str
    prefix: str
    """Without leading or trailing slash; may be empty."""

    @classmethod
    def parse(cls, url: str) -> Location:
        if not url.startswith("s3://"):
            raise InputError(f"{url!r} is not an s3:// URL (s3://bucket/prefix)")
        bucket, _, prefix = url[5:].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise InputError(f"{url!r}: {bucket!r} is not an S3 bucket name")
        return cls(bucket, prefix.strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @property
    def url(self) -> str:
        return self.url_of(self.prefix) if self.prefix else f"s3://{self.bucket}"


def connect(endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client (``endpoint_url`` for an S3-compatible store)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        raise InputError("archiving to S3 needs boto3: pip install 'affidavit[s3]'") from e
    return boto3.client("s3", endpoint_url=endpoint_url, config=Config(retries={"max_attempts": 3}))


def call(
    loc: Location, key: str, method: Callable[..., Any], /, *, missing: bool = False, **kw: Any
) -> Any:
    """``method(**kw)``: one S3 call, whose failure becomes :class:`S3Error` naming the URL.

    ``missing``: a missing key, version or lock configuration returns None instead.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**kw)
    except ClientError as e:
        error = e.response.get("Error", {})
        code = str(
            error.get("Code") or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        )
        if missing and code in _MISSING:
            return None
        message = error.get("Message") or str(e)
        raise S3Error(f"{loc.url_of(key)}: {code}: {message}") from e
    except BotoCoreError as e:
        raise S3Error(f"{loc.url_of(key)}: {e}") from e


def check_bucket(client: Any, loc: Location) -> None:
    """Refuse a bucket that could let an archived object be rewritten or deleted."""
    versioning = call(loc, "", client.get_bucket_versioning, Bucket=loc.bucket)
    if versioning.get("Status") != "Enabled":
        raise InputError(
            f"s3://{loc.bucket}: versioning is not enabled; an archive needs a bucket "
            "created with Object Lock (which turns versioning on)"
        )
    lock = call(loc, "", client.get_object_lock_configuration, Bucket=loc.bucket, missing=True)
    enabled = (lock or {}).get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
    if enabled != "Enabled":
        raise InputError(
            f"s3://{loc.bucket}: Object Lock is not enabled; archived objects there could be "
            "deleted or overwritten (create the bucket with Object Lock enabled)"
        )
