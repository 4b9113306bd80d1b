//! A shop's fiscal settings: the first month of its fiscal year and its closing hour
//! (core::closing::settings holds them valid; the defaults apply until a shop changes one).

use crate::db::Conn;
use crate::{StoreError, params};
use comptoir_core::closing::settings::FiscalSettings;

/// The shop's settings, the defaults for what it never changed.
pub fn get(c: &mut dyn Conn, shop_id: i64) -> Result<FiscalSettings, StoreError> {
    match c.query_opt(
        "select first_month, closing_minute from fiscal_settings where shop_id = $1",
        params![shop_id],
    )? {
        None => Ok(FiscalSettings::default()),
        Some(r) => FiscalSettings::new(r.i64(0)?, r.i64(1)?)
            .map_err(|e| StoreError::Decode(format!("fiscal_settings: expected {e}"))),
    }
}

/// Changes the first month and/or the closing hour (minutes after midnight). The first
/// month is refused (`Conflict`) once a fiscal year is closed: the next year must start
/// where the last one ended.
pub fn set(
    c: &mut dyn Conn,
    shop_id: i64,
    first_month: Option<i64>,
    closing_minute: Option<i64>,
) -> Result<FiscalSettings, StoreError> {
    crate::shops::get_shop(c, shop_id)?.ok_or(StoreError::NotFound)?;
    let now = get(c, shop_id)?;
    let wanted = FiscalSettings::new(
        first_month.unwrap_or(i64::from(now.first_month())),
        closing_minute.unwrap_or(i64::from(now.closing_minute())),
    )
    .map_err(|e| StoreError::Invalid(format!("expected {e}")))?;
    if wanted.first_month() != now.first_month() {
        let years = c
            .query_one(
                "select count(*) from closings where shop_id = $1 and period = 'year'",
                params![shop_id],
            )?
            .i64(0)?;
        if years > 0 {
            return Err(StoreError::Conflict(format!(
                "--first-month: shop {shop_id} has closed fiscal years starting in month {}; the first month cannot change any more",
                now.first_month()
            )));
        }
    }
    let changed = c.execute(
        "update fiscal_settings set first_month = $2, closing_minute = $3 where shop_id = $1",
        params![
            shop_id,
            i64::from(wanted.first_month()),
            i64::from(wanted.closing_minute())
        ],
    )?;
    if changed == 0 {
        c.execute(
            "insert into fiscal_settings (shop_id, first_month, closing_minute) values ($1, $2, $3)",
            params![
                shop_id,
                i64::from(wanted.first_month()),
                i64::from(wanted.closing_minute())
            ],
        )?;
    }
    Ok(wanted)
}
