// Affidavit console: check a record's inclusion proof in this browser, trusting nothing the
// server computed. SHA-256 and Ed25519 through WebCrypto; RFC 9162 section 2.1 (leaf and
// node hashes), 2.1.3.2 (verifying an inclusion proof); C2SP tlog-checkpoint and
// signed-note (checkpoint body, signature lines, key ids). The page stays readable without it.
(async function () {
  "use strict";
  const source = document.getElementById("proof-data");
  const verdict = document.getElementById("verdict");
  const list = document.getElementById("steps");
  if (!source || !verdict || !list) return;
  let failed = false;
  let unchecked = false;
  function step(state, text) {
    const li = document.createElement("li");
    li.className = state === true ? "ok" : state === false ? "bad" : "skip";
    li.textContent = text;
    list.appendChild(li);
    if (state === false) failed = true;
    if (state === null) unchecked = true;
  }
  function done(text, cls) {
    verdict.textContent = text;
    verdict.className = "verdict " + cls;
    verdict.dataset.verdict = cls;
  }
  if (!window.crypto || !window.crypto.subtle) {
    done("Not checked: this browser offers no WebCrypto on this page (it needs HTTPS or localhost). Use the recipe below.", "pending");
    return;
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const sha = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const hex = (a) => Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
  const json = (bytes) => JSON.parse(decoder.decode(bytes));

  try {
    const data = JSON.parse(source.textContent);
    const org = data.org;
    const orgLeaf = b64(org.leaf);
    const orgEnvelope = json(orgLeaf);
    if (data.endpoint) {
      const leaf = b64(data.endpoint.leaf);
      const envelope = json(leaf);
      if (data.endpoint.payload !== null && data.endpoint.salt !== null) {
        const c = await sha(cat(b64(data.endpoint.salt), b64(data.endpoint.payload)));
        step(same(c, b64(envelope.commitment)), "The record's payload matches the commitment in its envelope (SHA-256 of salt and payload).");
      } else {
        step(null, "The record's payload was erased: only its envelope can be proven.");
      }
      const leafHash = await sha(cat(new Uint8Array([0]), leaf));
      const named = org.payload === null ? null : json(b64(org.payload)).leaf_hash;
      step(named !== null && same(leafHash, b64(named)), "The record's leaf hash, SHA-256(0x00 ‖ envelope), is the one the org log holds: " + hex(leafHash).slice(0, 16) + "…");
    }
    if (org.payload !== null && org.salt !== null) {
      const c = await sha(cat(b64(org.salt), b64(org.payload)));
      step(same(c, b64(orgEnvelope.commitment)), "The org log entry's payload matches its commitment.");
    } else if (data.endpoint) {
      step(false, "The org log entry's payload is missing, so it names no record.");
    }

    // RFC 9162 2.1.3.2: fold the audit path from the leaf hash up to a root.
    let fn = BigInt(org.index);
    let sn = BigInt(org.size) - 1n;
    let r = await sha(cat(new Uint8Array([0]), orgLeaf));
    let pathOk = fn <= sn;
    for (const p64 of org.path) {
      const p = b64(p64);
      if (sn === 0n) { pathOk = false; break; }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha(cat(new Uint8Array([1]), p, r));
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await sha(cat(new Uint8Array([1]), r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    pathOk = pathOk && sn === 0n;

    // C2SP tlog-checkpoint: origin, size, base64 root, then a blank line and signatures.
    const note = data.checkpoint;
    const cut = note.indexOf("\n\n");
    const body = note.slice(0, cut + 1);
    const [origin, sizeText, rootText] = body.split("\n");
    const root = b64(rootText);
    step(pathOk && sizeText === String(org.size) && same(r, root),
      "The audit path (" + org.path.length + " hashes) leads from entry " + org.index + " to the root of the checkpoint of size " + sizeText + ".");

    // C2SP signed-note: vkey name+hex(key id)+base64(0x01 ‖ key); key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4].
    const vkey = data.vkey;
    const first = vkey.indexOf("+");
    const second = vkey.indexOf("+", first + 1);
    const name = vkey.slice(0, first);
    const typed = b64(vkey.slice(second + 1));
    const enc = new TextEncoder();
    const keyId = (await sha(cat(enc.encode(name), new Uint8Array([10]), typed))).slice(0, 4);
    const lines = note.slice(cut + 2).split("\n").filter((l) => l.startsWith("\u2014 " + name + " "));
    let signature = null;
    for (const line of lines) {
      const raw = b64(line.slice(("\u2014 " + name + " ").length));
      if (raw.length === 68 && same(raw.slice(0, 4), keyId)) signature = raw.slice(4);
    }
    if (origin !== name || typed[0] !== 1 || hex(keyId) !== vkey.slice(first + 1, second) || signature === null) {
      step(false, "The checkpoint carries no signature line of the org key " + name + ".");
    } else {
      let key = null;
      try {
        key = await crypto.subtle.importKey("raw", typed.slice(1), { name: "Ed25519" }, false, ["verify"]);
      } catch (e) {
        step(null, "This browser cannot check Ed25519 signatures; check the checkpoint's signature elsewhere (recipe below).");
      }
      if (key !== null) {
        const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, enc.encode(body));
        step(ok, "The checkpoint is signed by the org key " + name + " (Ed25519, checked in this browser).");
      }
    }
  } catch (e) {
    step(false, "The proof could not be read: " + (e && e.message ? e.message : String(e)));
  }
  if (failed) {
    done("Not verified: a check below failed. This record or its proof does not match the signed log.", "bad");
  } else if (unchecked) {
    done("Verified, with a step this browser could not check (see below).", "ok");
  } else {
    done("Verified: this record is in the org log, as signed in the checkpoint.", "ok");
  }
})();
