//! Applying rows of the items CSV (`catalog import` of a `.csv`): the CLI parses the
//! file, this checks each row's references and inserts or updates the item.

use crate::StoreError;
use crate::catalog::{
    ITEM_SELECT, department_exists, insert_item, item_from_row, update_item, vat_rate_exists,
};
use crate::db::Conn;
use comptoir_core::model::Item;

/// One parsed row of the file.
#[derive(Clone, Debug)]
pub struct ItemRow {
    /// The line of the file, for messages.
    pub line: u64,
    pub item: Item,
    /// Which columns the file has, in the CSV's column order (id, department_id, name,
    /// price, vat_rate, barcode, reference, position, active, stock): an update keeps
    /// the stored value of the others.
    pub present: [bool; 10],
}

/// Writes parsed rows in the caller's transaction: an id of 0 is a new item, another id
/// updates that item's columns the file has. A missing reference names its line, and then
/// the caller's transaction must be rolled back (the error is `Invalid`). On PostgreSQL,
/// an ANALYZE of `items` waits for the caller's commit, as with [`crate::catalog::import`].
pub fn apply(c: &mut dyn Conn, shop_id: i64, lines: &[ItemRow]) -> Result<(), StoreError> {
    crate::statistics::hold_off(c, &["items"])?;
    let mut errors = Vec::new();
    for l in lines {
        let it = &l.item;
        if !department_exists(c, shop_id, it.department_id)? {
            errors.push(format!(
                "line {}, column department_id: department {} does not exist in this shop",
                l.line, it.department_id
            ));
            continue;
        }
        if let Some(r) = it.vat_rate
            && !vat_rate_exists(c, shop_id, r)?
        {
            errors.push(format!(
                "line {}, column vat_rate: VAT rate {r} does not exist in this shop",
                l.line
            ));
            continue;
        }
        if it.id == 0 {
            insert_item(c, shop_id, it.department_id, it)?;
            continue;
        }
        let Some(stored) = c
            .query_opt(
                &format!("{ITEM_SELECT} where shop_id = $1 and id = $2"),
                crate::params![shop_id, it.id],
            )?
            .map(|r| item_from_row(&r))
            .transpose()?
        else {
            errors.push(format!(
                "line {}, column id: item {} does not exist in this shop",
                l.line, it.id
            ));
            continue;
        };
        update_item(c, shop_id, &merged(stored, it, &l.present))?;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors.join("\n")))
    }
}

/// `update` where the file has the column, `stored` elsewhere.
fn merged(stored: Item, update: &Item, present: &[bool; 10]) -> Item {
    let u = update.clone();
    Item {
        id: stored.id,
        department_id: u.department_id,
        name: u.name,
        price: u.price,
        vat_rate: if present[4] {
            u.vat_rate
        } else {
            stored.vat_rate
        },
        barcode: if present[5] {
            u.barcode
        } else {
            stored.barcode
        },
        reference: if present[6] {
            u.reference
        } else {
            stored.reference
        },
        position: if present[7] {
            u.position
        } else {
            stored.position
        },
        active: if present[8] { u.active } else { stored.active },
        stock: if present[9] { u.stock } else { stored.stock },
    }
}
