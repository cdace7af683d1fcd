"""The one verification core: ``affidavit verify``, ``verify-pack``, ``archive verify`` and
salvage all check rows, erasures and trees through it, so a security fix lands once.

* :mod:`affidavit.verify.rows`: each stored record (leaf hash, envelope, commitment);
* :mod:`affidavit.verify.erasure`: the one rule for a missing payload (also enforced when
  records are appended);
* :mod:`affidavit.verify.tree`: the RFC 9162 fold, stored subtrees, roots at checkpoints;
* :mod:`affidavit.verify.log`: all of it over a ledger's store.

It sits below the ledger: it reads a store and imports no ledger, query or CLI. This file
imports nothing, so the capture hook can use the erasure rule without loading the rest.
"""
