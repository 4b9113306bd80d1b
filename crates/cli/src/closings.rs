//! `comptoir close` and `comptoir closings list`: a shop's closings (days, months, fiscal
//! years), signed with the fiscal key (store::closings writes them, core::closing decides).

use crate::{Failure, require_shop};
use clap::{Args, Subcommand};
use comptoir_core::closing::period::{Kind, Period};
use comptoir_store::Store;
use comptoir_store::closings::{self, Closed, ClosingRow};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum ClosingsCommand {
    /// List a shop's closings (days, months, years) in the order they were made.
    List {
        #[arg(long)]
        shop: i64,
        #[arg(long)]
        json: bool,
    },
}

/// `comptoir close`: one period, named by exactly one of `--day`, `--month`, `--year`.
#[derive(Args)]
pub(crate) struct CloseArgs {
    #[arg(long)]
    shop: i64,
    /// A day, YYYY-MM-DD, before today in the shop's time zone.
    #[arg(long, required_unless_present_any = ["month", "year"], conflicts_with_all = ["month", "year"])]
    day: Option<String>,
    /// A month, YYYY-MM, once its last day is closed.
    #[arg(long, conflicts_with = "year")]
    month: Option<String>,
    /// The fiscal year starting in YYYY (in the shop's first month, `fiscal settings`),
    /// once its last month is closed.
    #[arg(long)]
    year: Option<String>,
}

/// `comptoir close --shop ID (--day YYYY-MM-DD | --month YYYY-MM | --year YYYY)`.
pub(crate) async fn close(store: Store, key_file: PathBuf, args: CloseArgs) -> Result<(), Failure> {
    let shop = args.shop;
    let (kind, text) = match (args.day, args.month, args.year) {
        (Some(d), _, _) => (Kind::Day, d),
        (_, Some(m), _) => (Kind::Month, m),
        (_, _, Some(y)) => (Kind::Year, y),
        _ => return Err(Failure::usage("expected --day, --month or --year")),
    };
    require_shop(&store, shop).await?;
    let fiscal = store
        .read(move |c| closings::settings::get(c, shop))
        .await?;
    let period = Period::parse(kind, &text, fiscal.first_month())
        .map_err(|e| Failure::usage(format!("{}: expected {e}, got {text:?}", kind.option())))?;
    let key = crate::fiscal::load_key(&key_file)?;
    let now = jiff::Timestamp::now();
    let closed = store
        .write(move |c| closings::close(c, shop, &period, &key, now))
        .await?;
    match closed {
        Closed::New(r) => println!(
            "closed {} for shop {shop}: {} closing {}, journal entry {}",
            r.day, r.period, r.number, r.journal_seq
        ),
        Closed::Already(r) => println!(
            "{} is already closed for shop {shop}: {} closing {}, journal entry {}",
            r.day, r.period, r.number, r.journal_seq
        ),
    }
    Ok(())
}

fn as_json(r: &ClosingRow) -> Result<serde_json::Value, Failure> {
    let entry: serde_json::Value = serde_json::from_str(&r.entry).map_err(|e| Failure {
        code: 1,
        message: format!(
            "{} closing {}: stored entry is not JSON: {e}",
            r.period, r.number
        ),
    })?;
    Ok(serde_json::json!({
        "period": r.period, "number": r.number, "day": r.day, "journal_seq": r.journal_seq,
        "entry": entry, "signature": r.signature, "public_key": r.public_key,
    }))
}

pub(crate) async fn run(store: Store, cmd: ClosingsCommand) -> Result<(), Failure> {
    let ClosingsCommand::List { shop, json } = cmd;
    require_shop(&store, shop).await?;
    let rows = store.read(move |c| closings::list_all(c, shop)).await?;
    if json {
        let list = rows.iter().map(as_json).collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    println!("period  number  date        sales  total  grand total  entry");
    for r in &rows {
        let v = as_json(r)?;
        let e = &v["entry"];
        println!(
            "{:<7} {:<7} {:<10}  {:>5}  {:>5}  {:>11}  {}",
            r.period, r.number, r.day, e["sales"], e["total"], e["grand_total"], r.journal_seq
        );
    }
    Ok(())
}
