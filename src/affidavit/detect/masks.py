"""How each data class is masked: the form of a value that may be stored and shown."""

from __future__ import annotations

from affidavit.detect.names import dob_parts


def stars(text: str, keep_last: int = 0) -> str:
    """Every letter and digit but the last ``keep_last`` becomes ``*``; separators stay."""
    out, kept = [], 0
    for c in reversed(text):
        if c.isalnum() and kept < keep_last:
            kept += 1
            out.append(c)
        else:
            out.append("*" if c.isalnum() else c)
    return "".join(reversed(out))


def mask(data_class: str, value: str, *, rule: str = "") -> str:
    """The form of ``value`` that may be stored and shown.

    card ``411111******1111`` (BIN + last 4, PCI DSS 3.4); ssn ``***-**-6789``; iban
    ``GB82**************5432``; nhs ``******5919``; email ``j***@example.com``; phone all
    digits but the last 3; phi: mrn ``******56``, icd10 ``E**.*`` (the chapter letter),
    dob-with-name ``DOB ****-**-** J*** S****``; secret ``[REDACTED:secret]``.
    """
    compact = "".join(c for c in value if c.isalnum())
    if data_class == "card":
        return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]
    if data_class == "ssn":
        return "***-**-" + compact[-4:]
    if data_class == "iban":
        return compact[:4].upper() + "*" * (len(compact) - 8) + compact[-4:].upper()
    if data_class == "nhs":
        return "*" * (len(compact) - 4) + compact[-4:]
    if data_class == "email":
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain.lower()}"
    if data_class == "phone":
        return stars(value, 3)
    if data_class == "phi" and rule == "icd10":
        return value[:1] + "**" + (".*" if "." in value else "")
    if data_class == "phi" and rule == "dob-with-name":
        date, name = dob_parts(value)
        return f"DOB {stars(date)} " + " ".join(w[:1] + "*" * (len(w) - 1) for w in name.split())
    if data_class == "phi":
        return stars(value, 2)
    return f"[REDACTED:{rule or data_class}]"
