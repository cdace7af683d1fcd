"""Every HTTP client the product has, against a server that breaks off its answers.

A collector worker killed while it writes a response leaves the client with a status line
and headers promising a body that never comes (``http.client.IncompleteRead``, which is no
``OSError``); a proxy may send a status line that isn't HTTP, or a body that isn't JSON. Each
client must turn these into its one-line error, the kind its callers retry or report, and
never let them escape: the shipping thread of a laptop died of exactly this once, in the
collector fault test.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from affidavit import remote, shipping
from affidavit.errors import LedgerError
from affidavit.server import witnesses
from affidavit.sources.http import Client, SourceError
from provider_server import loopback

BREAKS = ("truncated", "not-http", "not-json", "closed")


class Breaking(BaseHTTPRequestHandler):
    """``/<break>/...``: answers in the way ``<break>`` names."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        how = self.path.split("/")[1]
        if how == "truncated":  # headers promise 421 bytes; the worker dies before any
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 421\r\n\r\n")
        elif how == "not-http":
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        elif how == "not-json":
            body = b"<html>502 Bad Gateway</html>\n\xff\xfe"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        # "closed": nothing at all
        self.wfile.flush()
        self.close_connection = True

    do_POST = do_GET


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with loopback(Breaking) as url:
        yield url


@pytest.mark.parametrize("how", BREAKS)
def test_shipping_turns_a_broken_answer_into_a_ledger_error(base: str, how: str) -> None:
    # LedgerError is what the service's shipper and `affidavit ship` retry and report.
    for body in (None, {"a": 1}):
        with pytest.raises(LedgerError) as e:
            shipping._request(f"{base}/{how}", "tok", "/api/v1/enrol", body)
        assert "collector" in str(e.value) and "\n" not in str(e.value)
        assert "tok" not in str(e.value)


@pytest.mark.parametrize("how", BREAKS)
def test_remote_queries_turn_a_broken_answer_into_a_ledger_error(base: str, how: str) -> None:
    from affidavit.query import Filters

    calls = [
        lambda: remote.record(f"{base}/{how}", "tok", 7),
        lambda: remote.gaps(f"{base}/{how}", "tok"),
        lambda: list(remote.records(f"{base}/{how}", "tok", Filters())),
    ]
    for call in calls:
        with pytest.raises(LedgerError) as e:
            call()
        assert "collector" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("how", BREAKS)
def test_provider_client_turns_a_broken_answer_into_a_source_error(base: str, how: str) -> None:
    client = Client("drive", f"{base}/{how}", "secret-token", "a file", retries=0)
    with pytest.raises(SourceError) as e:
        client.get(f"{base}/{how}/files")
    assert str(e.value).startswith("drive: GET ") and "secret-token" not in str(e.value)


@pytest.mark.parametrize("how", ["truncated", "not-http", "closed"])
def test_witness_post_turns_a_broken_answer_into_a_witness_error(base: str, how: str) -> None:
    with pytest.raises(witnesses.WitnessError):
        witnesses._post(f"{base}/{how}", b"old 0\n\nnote\n")
