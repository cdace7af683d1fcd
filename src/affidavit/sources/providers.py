"""Revision lists of the three cloud-sync providers, as documented.

* Google Drive API v3: ``files.list`` walks the path from ``root`` one name at a time, then
  ``revisions.list`` (``GET /drive/v3/files/{id}/revisions``, ``nextPageToken``). A binary
  revision has ``md5Checksum``; one not ``keepForever`` is purged 30 days after newer content.
* Microsoft Graph: ``GET /v1.0/me/drive/root:/{path}`` for the item, then ``GET
  /v1.0/me/drive/items/{id}/versions`` (``@odata.nextLink``); versions carry no hash.
* Dropbox: ``POST /2/files/list_revisions`` (``mode`` path, ``limit`` up to 100, newest
  first; while ``has_more``, again with ``before_rev`` the last entry's ``rev``); each entry
  has ``content_hash`` (Dropbox content hash: SHA-256 of the SHA-256 of each 4 MiB block),
  ``is_deleted`` and ``server_deleted`` of the first page say the file is gone.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from affidavit.errors import InputError
from affidavit.record import parse_time
from affidavit.sources.http import Client, NotFound, SourceError


@dataclass(frozen=True, slots=True)
class Revision:
    id: str
    time: datetime
    size: int | None = None
    hash: str | None = None
    """In the provider's own hash (:attr:`Provider.hash_name`), hex."""
    keep_forever: bool = False


@dataclass(frozen=True, slots=True)
class History:
    revisions: tuple[Revision, ...]
    deleted: str | None = None
    """Why the file is gone at the provider (None: it is there)."""


class Provider(Protocol):
    name: str
    api_url: str
    hash_name: str | None
    default_retention_days: int | None

    def history(self, client: Client, remote: str) -> History: ...

    def content_hash(self, data: bytes) -> str | None: ...


def _time(value: object, where: str) -> datetime:
    try:
        return parse_time(str(value))
    except InputError as e:
        raise SourceError(f"{where}: {e}") from e


def _size(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


class GoogleDrive:
    name = "google-drive"
    api_url = "https://www.googleapis.com"
    hash_name: str | None = "md5"
    default_retention_days: int | None = 30

    def history(self, client: Client, remote: str) -> History:
        parent = "root"
        for part in [p for p in remote.split("/") if p]:
            name = part.replace("\\", "\\\\").replace("'", "\\'")
            q = f"'{parent}' in parents and name = '{name}' and trashed = false"
            found = client.get(
                client.url("/drive/v3/files", {"q": q, "fields": "files(id,name)"})
            ).get("files")
            if not isinstance(found, list) or not found or not isinstance(found[0], dict):
                return History((), deleted=f"no file {remote} in Drive (deleted or moved)")
            parent = str(found[0].get("id"))
        try:
            revisions = list(self._revisions(client, parent))
        except NotFound:
            return History((), deleted=f"Drive file {parent} not found (deleted)")
        return History(tuple(revisions))

    def _revisions(self, client: Client, file_id: str) -> Iterator[Revision]:
        fields = "nextPageToken,revisions(id,modifiedTime,md5Checksum,size,keepForever)"
        params = {"pageSize": "200", "fields": fields}
        path = f"/drive/v3/files/{urllib.parse.quote(file_id, safe='')}/revisions"
        while True:
            page = client.get(client.url(path, params))
            for r in page.get("revisions") or []:
                yield Revision(
                    str(r.get("id")),
                    _time(r.get("modifiedTime"), f"{self.name}: revision {r.get('id')}"),
                    _size(r.get("size")),
                    r.get("md5Checksum") if isinstance(r.get("md5Checksum"), str) else None,
                    r.get("keepForever") is True,
                )
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                return
            params = {**params, "pageToken": token}

    def content_hash(self, data: bytes) -> str | None:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()


class OneDrive:
    name = "onedrive"
    api_url = "https://graph.microsoft.com"
    hash_name: str | None = None
    default_retention_days: int | None = None  # set by the tenant's admins; declare it

    def history(self, client: Client, remote: str) -> History:
        quoted = urllib.parse.quote("/" + remote.strip("/"))
        try:
            item = client.get(client.url(f"/v1.0/me/drive/root:{quoted}"))
        except NotFound:
            return History((), deleted=f"no item {remote} in OneDrive (deleted or moved)")
        item_id = urllib.parse.quote(str(item.get("id")), safe="")
        url = client.url(f"/v1.0/me/drive/items/{item_id}/versions")
        out: list[Revision] = []
        while url:
            page = client.get(url)
            for v in page.get("value") or []:
                out.append(
                    Revision(
                        str(v.get("id")),
                        _time(v.get("lastModifiedDateTime"), f"{self.name}: version {v.get('id')}"),
                        _size(v.get("size")),
                    )
                )
            link = page.get("@odata.nextLink")
            url = link if isinstance(link, str) else ""
        return History(tuple(out))

    def content_hash(self, data: bytes) -> str | None:
        return None


class Dropbox:
    name = "dropbox"
    api_url = "https://api.dropboxapi.com"
    hash_name: str | None = "dropbox-content-hash"
    default_retention_days: int | None = 30  # Basic and Plus; declare 180 or 365 for others

    def history(self, client: Client, remote: str) -> History:
        body: dict[str, Any] = {"path": "/" + remote.strip("/"), "mode": "path", "limit": 100}
        url = client.url("/2/files/list_revisions")
        try:
            page = client.post(url, body)
        except NotFound as e:
            summary = str(e.body.get("error_summary") or "not_found")
            return History((), deleted=f"Dropbox: {summary}")
        # Only the first page speaks of the file as it is now; a later one, of the latest
        # revision older than its before_rev.
        deleted = None
        if page.get("is_deleted") is True:
            when = page.get("server_deleted")
            deleted = f"deleted in Dropbox at {when or 'an unknown time'}"
        revisions = [self._entry(e) for e in page.get("entries") or []]
        seen = {r.id for r in revisions}
        # A file edited often has more than 100 revisions: an agent's edit may be among the
        # older ones, and missing them would record a gap the provider does not have.
        while page.get("has_more") is True and revisions:
            body = {**body, "before_rev": revisions[-1].id}
            try:
                page = client.post(url, body)
            except NotFound:
                raise SourceError(
                    f"{client.name}: Dropbox {remote} went while its revisions were read; "
                    "pull again"
                ) from None
            more = [r for r in map(self._entry, page.get("entries") or []) if r.id not in seen]
            if not more:
                break  # no progress: never loop on a provider that repeats a page
            seen.update(r.id for r in more)
            revisions += more
        return History(tuple(revisions), deleted=deleted)

    def _entry(self, e: dict[str, Any]) -> Revision:
        return Revision(
            str(e.get("rev")),
            _time(e.get("server_modified"), f"{self.name}: revision {e.get('rev')}"),
            _size(e.get("size")),
            e.get("content_hash") if isinstance(e.get("content_hash"), str) else None,
        )

    def content_hash(self, data: bytes) -> str | None:
        blocks = b"".join(
            hashlib.sha256(data[i : i + (4 << 20)]).digest() for i in range(0, len(data), 4 << 20)
        )
        return hashlib.sha256(blocks).hexdigest()


PROVIDERS: dict[str, Provider] = {p.name: p for p in (GoogleDrive(), OneDrive(), Dropbox())}
