//! Idempotency keys: the first answer to a key, replayed for 7 days; a different
//! request with the same key is refused.

use super::*;

/// Checks the idempotency key: `Some(answer)` to replay, an error for a conflict.
pub fn check_idempotency(
    c: &mut dyn Conn,
    shop_id: i64,
    idem: &IdempotencyInput,
    field: &str,
) -> Result<Option<String>, SaleFailure> {
    let record = c
        .query_opt(
            "select request_hash, response, created_at from idempotency_keys
             where shop_id = $1 and idem_key = $2",
            params![shop_id, idem.key.as_str()],
        )?
        .map(|r| Ok::<_, StoreError>((r.string(0)?, r.string(1)?, r.i64(2)?)))
        .transpose()?;
    judge_idempotency(record, idem, field)
}

/// What the key's `record` (`request_hash, response, created_at`), if any, says of
/// request `idem`: `Some(answer)` to replay, an error for a conflict, `None` to go on.
pub(super) fn judge_idempotency(
    record: Option<(String, String, i64)>,
    idem: &IdempotencyInput,
    field: &str,
) -> Result<Option<String>, SaleFailure> {
    let Some((request_hash, response, created_at)) = record else {
        return Ok(None);
    };
    // An expired key is as good as unused: reading writes nothing, so that a request
    // refused afterwards leaves its batch alone; the record is replaced when saved.
    if created_at < now_micros() - IDEMPOTENCY_WINDOW_MICROS {
        return Ok(None);
    }
    if request_hash != idem.request_hash {
        return Err(SaleError::new(
            ErrorCode::IdempotencyConflict,
            field,
            "this key was already used with different parameters",
        )
        .into());
    }
    Ok(Some(response))
}

/// Waits for the shop's writes in other transactions to commit (PostgreSQL: the shop's
/// counter row, which every sale locks), so that a key they recorded is then visible.
/// SQLite's single writer needs nothing.
pub fn lock_shop(c: &mut dyn Conn, shop_id: i64) -> Result<(), StoreError> {
    if c.backend() == Backend::Postgres {
        c.query(
            "select 1 from shop_counters where shop_id = $1 for update",
            params![shop_id],
        )?;
    }
    Ok(())
}

/// Remembers the answer given to an idempotency key, in the transaction of the write,
/// in place of an expired record of the same key.
pub fn save_idempotency(
    c: &mut dyn Conn,
    shop_id: i64,
    idem: &IdempotencyInput,
    response: &str,
) -> Result<(), StoreError> {
    c.execute(
        "delete from idempotency_keys where shop_id = $1 and idem_key = $2 and created_at < $3",
        params![
            shop_id,
            idem.key.as_str(),
            now_micros() - IDEMPOTENCY_WINDOW_MICROS
        ],
    )?;
    c.execute(
        "insert into idempotency_keys (shop_id, idem_key, request_hash, response, created_at)
         values ($1, $2, $3, $4, $5)",
        params![
            shop_id,
            idem.key.as_str(),
            idem.request_hash.as_str(),
            response,
            now_micros()
        ],
    )?;
    Ok(())
}
