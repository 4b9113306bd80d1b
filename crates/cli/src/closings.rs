//! `comptoir close` and `comptoir closings list`: a shop's daily closings (the Z), signed
//! with the fiscal key (store::closings writes them, core::closing decides).

use crate::{Failure, require_shop};
use clap::Subcommand;
use comptoir_store::Store;
use comptoir_store::closings::{self, Closed, ClosingRow};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum ClosingsCommand {
    /// List a shop's daily closings, oldest first.
    List {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        json: bool,
    },
}

/// `comptoir close --shop ID --day YYYY-MM-DD`.
pub(crate) async fn close(
    store: Store,
    key_file: PathBuf,
    shop: i64,
    day: &str,
) -> Result<(), Failure> {
    let date: jiff::civil::Date = day
        .trim()
        .parse()
        .map_err(|_| Failure::usage(format!("--day: expected YYYY-MM-DD, got {day:?}")))?;
    require_shop(&store, shop).await?;
    let key = crate::fiscal::load_key(&key_file)?;
    let now = jiff::Timestamp::now();
    let closed = store
        .write(move |c| closings::close_day(c, shop, date, &key, now))
        .await?;
    match closed {
        Closed::New(r) => println!(
            "closed {} for shop {shop}: closing {}, journal entry {}",
            r.day, r.number, r.journal_seq
        ),
        Closed::Already(r) => println!(
            "{} is already closed for shop {shop}: closing {}, journal entry {}",
            r.day, r.number, r.journal_seq
        ),
    }
    Ok(())
}

fn as_json(r: &ClosingRow) -> Result<serde_json::Value, Failure> {
    let entry: serde_json::Value = serde_json::from_str(&r.entry).map_err(|e| Failure {
        code: 1,
        message: format!("closing {}: stored entry is not JSON: {e}", r.number),
    })?;
    Ok(serde_json::json!({
        "number": r.number, "day": r.day, "journal_seq": r.journal_seq, "entry": entry,
        "signature": r.signature, "public_key": r.public_key,
    }))
}

pub(crate) async fn run(store: Store, cmd: ClosingsCommand) -> Result<(), Failure> {
    let ClosingsCommand::List { shop, json } = cmd;
    require_shop(&store, shop).await?;
    let rows = store.read(move |c| closings::list(c, shop)).await?;
    if json {
        let list = rows.iter().map(as_json).collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    println!("number  day         sales  total  grand total  entry");
    for r in &rows {
        let v = as_json(r)?;
        let e = &v["entry"];
        println!(
            "{:<7} {}  {:>5}  {:>5}  {:>11}  {}",
            r.number, r.day, e["sales"], e["total"], e["grand_total"], r.journal_seq
        );
    }
    Ok(())
}
