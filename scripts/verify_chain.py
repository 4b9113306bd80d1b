#!/usr/bin/env python3
"""Re-verify the seal chain of one shop in a Comptoir SQLite database, independently of
Comptoir (Python 3 standard library only; the database is opened read-only).

    python3 scripts/verify_chain.py PATH/TO/comptoir.db SHOP_ID

Exit 0 and "chain ok: N entries, head SEAL" when every seal matches; exit 1 naming the
first entry that does not. docs/inalterability.md describes the encoding.
"""
import hashlib
import json
import pathlib
import re
import sqlite3
import sys

GENESIS = "0" * 64
ENCODING = "comptoir-journal-1"


def canonical(entry):
    """Compact JSON, keys sorted, UTF-8 (non-ASCII characters are not escaped)."""
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def seal(previous, data):
    return hashlib.sha256(previous.encode("ascii") + data).hexdigest()


def div_half_away(n, d):
    """n / d rounded half away from zero (d > 0)."""
    q, r = divmod(abs(n), d)
    if 2 * r >= d:
        q += 1
    return q if n >= 0 else -q


def variations(text):
    """Variation ids as the server re-reads them: "3,8"; unreadable parts are skipped."""
    ids = [p.strip() for p in text.split(",")]
    return ",".join(str(int(p)) for p in ids if re.fullmatch(r"[+-]?[0-9]+", p))


def order_entry(db, shop_id, seq, order_id):
    o = db.execute(
        "select id, number, created_at, validated_at, value_date, client_id, user_id,"
        " cash_box_id, delivery_method, table_id, is_refund, refund_of, total, vat, seal"
        " from orders where shop_id = ? and id = ?",
        (shop_id, order_id),
    ).fetchone()
    if o is None:
        return None, None
    lines, per_rate = [], {}
    for row in db.execute(
        "select line_no, item_id, department_id, title, quantity, unit_price, total,"
        " vat_rate, variations from order_lines where shop_id = ? and order_id = ?"
        " order by line_no",
        (shop_id, order_id),
    ):
        lines.append({
            "line_no": row[0], "item_id": row[1], "department_id": row[2],
            "title": row[3], "quantity": row[4], "unit_price": row[5], "total": row[6],
            "vat_rate": row[7], "variations": variations(row[8]),
        })
        per_rate[row[7]] = per_rate.get(row[7], 0) + row[6]
    # VAT once per rate on the sum of its lines: total x rate / (100 + rate), rates in
    # hundredths of a percent, highest rate first.
    vats = []
    for rate in sorted(per_rate, reverse=True):
        total = per_rate[rate]
        amount = div_half_away(total * rate, 10000 + rate)
        vats.append({"rate": rate, "base": total - amount, "amount": amount, "total": total})
    entry = {
        "encoding": ENCODING, "kind": "order", "shop_id": shop_id, "seq": seq,
        "order_internal_id": o[0], "number": o[1] or 0, "created_at": o[2],
        "validated_at": o[3] or 0, "value_date": o[4], "client_id": o[5], "user_id": o[6],
        "cash_box_id": o[7], "delivery_method": o[8], "table_id": o[9],
        "is_refund": bool(o[10]), "refund_of": o[11], "lines": lines, "vats": vats,
        "total": o[12], "vat": o[13],
    }
    return entry, o


def payment_entry(db, shop_id, seq, payment_id):
    p = db.execute(
        "select order_id, payment_method_id, amount, at from payments"
        " where shop_id = ? and id = ?",
        (shop_id, payment_id),
    ).fetchone()
    if p is None:
        return None
    return {
        "encoding": ENCODING, "kind": "payment", "shop_id": shop_id, "seq": seq,
        "order_internal_id": p[0], "payment_id": payment_id, "payment_method_id": p[1],
        "amount": p[2], "at": p[3],
    }


def closing_entry(db, shop_id, seq):
    """A closing's stored canonical bytes (a day, a month or a year), or None. Its
    signature needs an Ed25519 package and is not checked here (docs/inalterability.md)."""
    row = db.execute(
        "select entry from closings where shop_id = ? and journal_seq = ?", (shop_id, seq)
    ).fetchone()
    return None if row is None else row[0].encode("utf-8")


def verify(db, shop_id):
    """Returns (True, summary) or (False, what is wrong)."""
    head, count = GENESIS, 0
    journal = db.execute(
        "select seq, kind, order_id, payment_id, seal from journal where shop_id = ?"
        " order by seq",
        (shop_id,),
    ).fetchall()
    for seq, kind, order_id, payment_id, stored in journal:
        where = f"chain broken at entry {seq} ({kind} of orderInternalID {order_id})"
        if seq != count + 1:
            return False, f"{where}: entry {count + 1} is missing from the journal"
        if kind == "closing":
            where = f"chain broken at entry {seq} (a closing)"
            data = closing_entry(db, shop_id, seq)
            if data is None:
                return False, f"{where}: the sealed closing row is missing"
            recomputed = seal(head, data)
            if recomputed != stored:
                return False, f"{where}: stored seal {stored} does not match the recomputed {recomputed}"
            closing = json.loads(data)
            if canonical(closing) != data or closing.get("shop_id") != shop_id:
                return False, f"{where}: the closing is not a canonical entry of this shop"
            if closing.get("head") != head:
                return False, f"{where}: the closing records the head {closing.get('head')} but the entry before it seals {head}"
            head, count = recomputed, count + 1
            continue
        if kind == "order":
            entry, order = order_entry(db, shop_id, seq, order_id)
        else:
            entry, order = payment_entry(db, shop_id, seq, payment_id), None
        if entry is None:
            return False, f"{where}: the sealed {kind} row is missing"
        recomputed = seal(head, canonical(entry))
        if recomputed != stored:
            return False, f"{where}: stored seal {stored} does not match the recomputed {recomputed}"
        if order is not None and order[14] != recomputed:
            return False, f"{where}: the order's seal {order[14]} does not match the recomputed {recomputed}"
        head, count = recomputed, count + 1
    row = db.execute(
        "select journal_head from shop_counters where shop_id = ?", (shop_id,)
    ).fetchone()
    if row is None:
        return False, f"shop {shop_id} does not exist"
    if row[0] != head:
        return False, f"chain head in shop_counters {row[0]} does not match the last entry's seal {head}"
    return True, f"chain ok: {count} entries, head {head}"


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit():
        print(__doc__.strip(), file=sys.stderr)
        return 2
    db = sqlite3.connect(pathlib.Path(argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        ok, message = verify(db, int(argv[2]))
    finally:
        db.close()
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
