"""Signed payloads: records that carry the ledger key's signature of themselves.

An attestation, a rollback drill, an archive snapshot or a review sign-off is a claim made by
a person or a procedure. A checkpoint proves the claim was logged and never changed; the
signature proves it was made by someone holding the ledger's key, not slipped in with
``affidavit append`` (which needs no key). The signature is detached and lives in the payload::

    payload["signature"] = {
        "alg": "ed25519",
        "key": "<name>+<key id>+<base64 key>",        # the ledger's verifier key (C2SP form)
        "sig": base64(Ed25519(CONTEXT || JCS(payload without "signature"))),
    }

``CONTEXT`` (``b"affidavit/signed-payload/v1\\n"``) keeps these messages apart from
checkpoint notes and any other use of the key; JCS is RFC 8785, as for the commitment.
Whoever holds the key can sign anything, exactly as for checkpoints: the key is the root of
trust, so keep it off the agent's folders.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from affidavit.errors import InputError, VerificationError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner, Verifier
from affidavit.record import canonical_json

CONTEXT = b"affidavit/signed-payload/v1\n"


def _message(body: Mapping[str, Any]) -> bytes:
    return CONTEXT + canonical_json({k: v for k, v in body.items() if k != "signature"})


def sign_payload(body: Mapping[str, Any], signer: NoteSigner) -> dict[str, Any]:
    """``body`` plus its ``signature`` field; ``body`` MUST NOT already have one."""
    if "signature" in body:
        raise InputError("the payload to sign already has a signature field")
    signature = signer.sign(_message(body))
    return {
        **body,
        "signature": {
            "alg": "ed25519",
            "key": signer.verifier().vkey(),
            "sig": base64.b64encode(signature).decode("ascii"),
        },
    }


def verify_payload(payload: Mapping[str, Any], verifier: Verifier) -> None:
    """Return None when ``payload`` carries ``verifier``'s signature of itself, else raise."""
    sig = payload.get("signature")
    if not isinstance(sig, dict):
        raise VerificationError("the payload is not signed")
    if sig.get("alg") != "ed25519" or sig.get("key") != verifier.vkey():
        raise VerificationError(f"the payload is not signed by the ledger key {verifier.vkey()}")
    try:
        raw = base64.b64decode(str(sig.get("sig")), validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationError("the payload's signature is not base64") from e
    verifier.verify(_message(payload), raw)


def ledger_signer(ledger: Ledger) -> NoteSigner:
    """The ledger's signer (the one :meth:`Ledger.publish` uses), checked against its key."""
    return ledger.require_signer()
