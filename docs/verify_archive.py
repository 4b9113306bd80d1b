#!/usr/bin/env python3
"""Check a Comptoir archive (`comptoir archive`) without Comptoir: the Ed25519 signature of
manifest.json, each listed file's size and SHA-256, no file missing and none added.
Needs Python 3 and the `cryptography` package (pip install cryptography).

    python3 docs/verify_archive.py ARCHIVE.zip PUBLIC_KEY_HEX

PUBLIC_KEY_HEX is the fiscal key's public half (`comptoir fiscal key`), obtained from a
source other than the archive. Exit 0 and "archive ok: ..." when intact; exit 1 with one
line per problem otherwise; exit 2 for bad usage. docs/inalterability.md gives the format.
"""
import hashlib
import json
import sys
import zipfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "comptoir-archive-1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


def check(path, public_hex):
    """The list of problems (empty: the archive is intact) and the manifest, if read."""
    problems, members = [], {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.filename in members:
                problems.append(f"{info.filename}: present twice")
            digest, size = hashlib.sha256(), 0
            with z.open(info) as f:
                for chunk in iter(lambda: f.read(65536), b""):
                    digest.update(chunk)
                    size += len(chunk)
            members[info.filename] = (size, digest.hexdigest())
        manifest_bytes = z.read(MANIFEST) if MANIFEST in members else None
        signature = z.read(SIGNATURE) if SIGNATURE in members else None
    if manifest_bytes is None:
        return problems + [f"{MANIFEST} is missing from the archive"], None
    if signature is None:
        problems.append(f"{SIGNATURE} is missing from the archive")
    else:
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
            key.verify(bytes.fromhex(signature.decode("ascii").strip()), manifest_bytes)
        except (InvalidSignature, ValueError, UnicodeDecodeError):
            problems.append(
                f"{SIGNATURE} is not a valid signature of {MANIFEST} by the public key {public_hex}"
            )
    try:
        manifest = json.loads(manifest_bytes)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
        listed = {f["name"]: f for f in manifest["files"]}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return problems + [f"{MANIFEST} cannot be read: {e}"], None
    if manifest.get("public_key", "").lower() != public_hex.lower():
        problems.append(f"{MANIFEST} names the public key {manifest.get('public_key')}, "
                        f"not the key checked against {public_hex}")
    for name, want in listed.items():
        if name not in members:
            problems.append(f"{name}: listed in {MANIFEST} but missing from the archive")
            continue
        size, sha = members[name]
        if size != want["size"]:
            problems.append(f"{name}: {size} bytes, but {MANIFEST} says {want['size']} bytes")
        elif sha != want["sha256"].lower():
            problems.append(f"{name}: SHA-256 {sha}, but {MANIFEST} says {want['sha256']}")
    for name in members:
        if name not in listed and name not in (MANIFEST, SIGNATURE):
            problems.append(f"{name}: in the archive but not listed in {MANIFEST}")
    return problems, manifest


def main():
    if len(sys.argv) != 3:
        print("usage: python3 verify_archive.py ARCHIVE.zip PUBLIC_KEY_HEX", file=sys.stderr)
        return 2
    path, public_hex = sys.argv[1], sys.argv[2].strip()
    try:
        problems, manifest = check(path, public_hex)
    except (OSError, zipfile.BadZipFile) as e:
        print(f"{path}: not a readable ZIP archive: {e}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"archive ok: shop {manifest['shop_id']}, period {manifest['period']}, "
          f"{len(manifest['files'])} files, signed by {public_hex}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
