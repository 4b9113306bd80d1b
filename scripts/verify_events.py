#!/usr/bin/env python3
"""Re-verify the events journal of one shop (or of the server) in a Comptoir SQLite
database, independently of Comptoir (Python 3 standard library only; read-only).

    python3 scripts/verify_events.py PATH/TO/comptoir.db SHOP_ID
    python3 scripts/verify_events.py PATH/TO/comptoir.db server

Exit 0 and "events ok: N events, head SEAL" when every seal matches; exit 1 naming the
first event that does not. docs/inalterability.md (The events journal) gives the encoding.
"""
import hashlib
import json
import pathlib
import sqlite3
import sys

GENESIS = "0" * 64
ENCODING = "comptoir-events-1"


def seal(previous, data):
    return hashlib.sha256(previous.encode("ascii") + data).hexdigest()


def canonical(entry):
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def verify(db, key):
    """key: the shop id, or 0 for the server's journal."""
    head, count = GENESIS, 0
    rows = db.execute(
        "select seq, kind, entry, seal from events where shop_id = ? order by seq", (key,)
    ).fetchall()
    for seq, kind, entry, stored in rows:
        where = f"events chain broken at event {seq} ({kind})"
        if seq != count + 1:
            return False, f"{where}: event {count + 1} is missing from the journal"
        data = entry.encode("utf-8")
        recomputed = seal(head, data)
        if recomputed != stored:
            return False, f"{where}: stored seal {stored} does not match the recomputed {recomputed}"
        e = json.loads(data)
        shop = None if key == 0 else key
        if canonical(e) != data or e.get("seq") != seq or e.get("shop_id") != shop \
                or e.get("encoding") != ENCODING:
            return False, f"{where}: its bytes are not an event of this journal at this position"
        head, count = recomputed, count + 1
    row = db.execute("select seq, head from event_heads where shop_id = ?", (key,)).fetchone()
    stored_seq, stored_head = row if row is not None else (0, GENESIS)
    if stored_seq != count or stored_head != head:
        return False, (f"the journal's head records {stored_seq} events, head {stored_head}, "
                       f"but the journal holds {count}, head {head}")
    return True, f"events ok: {count} events, head {head}"


def main(argv):
    if len(argv) != 3 or not (argv[2].isdigit() or argv[2] == "server"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    key = 0 if argv[2] == "server" else int(argv[2])
    db = sqlite3.connect(pathlib.Path(argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        ok, message = verify(db, key)
    finally:
        db.close()
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
