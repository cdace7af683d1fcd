"""C2SP tlog-cosignature v1 (Ed25519): against the generated vector in ../shared/ and by
hand from the spec text (struct layout, key id rule), so a clone without ../shared/ still
checks the format."""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from affidavit.cosignature import Cosigner, cosign, signed_message, verify_cosignature
from affidavit.errors import VerificationError
from affidavit.note import Signer
from conftest import shared_path

BODY = "example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"


def test_the_shared_vector_byte_for_byte() -> None:
    v = json.loads(shared_path("vectors", "generated", "cosignature-v1-ed25519.json").read_text())
    signer = Signer.from_seed(v["cosigner_name"], bytes.fromhex(v["cosigner_ed25519_seed_hex"]))
    cosigner = Cosigner(v["cosigner_name"], signer.public_key)
    assert cosigner.public_key.hex() == v["cosigner_public_key_hex"]
    assert cosigner.key_id.hex() == v["key_id_hex"]
    assert cosigner.vkey() == v["cosigner_vkey"]
    assert Cosigner.from_vkey(v["cosigner_vkey"]) == cosigner
    body, ts = v["checkpoint_body"], v["timestamp"]
    assert signed_message(body, ts) == v["signed_message"].encode()
    line = cosign(body, v["cosigner_name"], signer, ts)
    assert line == v["signature_line"]
    assert verify_cosignature(line, body, cosigner) == ts


def test_layout_by_hand_from_the_spec() -> None:
    signer = Signer.generate("wit.example/w2")
    line = cosign(BODY, "wit.example/w2", signer, 1_700_000_000)
    name, encoded = line.removeprefix("\u2014 ").split(" ")
    blob = base64.b64decode(encoded)
    key_id = hashlib.sha256(b"wit.example/w2\n\x04" + signer.public_key).digest()[:4]
    assert name == "wit.example/w2" and blob[:4] == key_id
    assert struct.unpack(">Q", blob[4:12]) == (1_700_000_000,)
    message = b"cosignature/v1\ntime 1700000000\n" + BODY.encode()
    Ed25519PublicKey.from_public_bytes(signer.public_key).verify(blob[12:], message)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda line, body: (line, body.replace("\n8\n", "\n9\n")),  # another checkpoint
        lambda line, body: (line.replace("w3 ", "w4 "), body),  # another name
        lambda line, body: (line[:-6] + "AAAA==", body),  # signature bytes changed
    ],
)
def test_a_changed_cosignature_or_checkpoint_fails(mutate: object) -> None:
    signer = Signer.generate("wit.example/w3")
    cosigner = Cosigner("wit.example/w3", signer.public_key)
    line, body = mutate(cosign(BODY, "wit.example/w3", signer, 5), BODY)  # type: ignore[operator]
    with pytest.raises(VerificationError):
        verify_cosignature(line, body, cosigner)


def test_a_checkpoint_signing_key_is_not_a_cosigner_key() -> None:
    vkey = Signer.generate("wit.example/w5").verifier().vkey()  # type 0x01
    with pytest.raises(Exception, match="type 0x04"):
        Cosigner.from_vkey(vkey)
