//! `comptoir archive`: the signed archive of a closed period (a ZIP of CSV files, a
//! manifest and its detached Ed25519 signature), `comptoir archive verify FILE`, and
//! `verify --against`'s comparison of an archive with the database. The rules and the
//! manifest are core::archive's, the rows store::archive's, the CSV render::archive's.

use crate::{Failure, require_shop};
use clap::{Args, Subcommand};
use comptoir_core::archive::diff::{FileDiff, FileReport};
use comptoir_core::archive::{
    self, FORMAT, Field, FileDigest, FileEntry, Finding, MANIFEST, Manifest, Period, SIGNATURE,
};
use comptoir_store::Store;
use comptoir_store::archive::{PAGE, Span, TABLES, Table};
use comptoir_store::journal::snapshot;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use zip::ZipArchive;
use zip::write::SimpleFileOptions;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ArchiveArgs {
    #[command(subcommand)]
    command: Option<ArchiveCommand>,
    #[arg(long, required = true)]
    shop: Option<i64>,
    /// A month (YYYY-MM) or a calendar year (YYYY) whose last month has its closing.
    #[arg(long, required = true)]
    period: Option<String>,
    /// The ZIP file to write; it must not exist yet.
    #[arg(long, required = true)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Check an archive: the manifest's signature, each file's size and SHA-256, no file
    /// missing or added. Exit 0 intact, 1 not intact, 2 bad usage, 3 no usable key.
    Verify {
        file: PathBuf,
        /// The fiscal key's public half (64 hex digits) the manifest must be signed by;
        /// default: the public half of the server's key file.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

fn io_failure(what: &Path, e: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: format!("{}: {e}", what.display()),
    }
}

/// `archive verify` needs no database: run it before one is opened.
pub(crate) fn without_database(args: &ArchiveArgs, key_file: &Path) -> Option<Result<(), Failure>> {
    let Some(ArchiveCommand::Verify { file, public_key }) = &args.command else {
        return None;
    };
    Some(verify_file(file, public_key.as_deref(), key_file))
}

/// The public key to check against: `--public-key`, else the key file's public half (an
/// existing file only: checking creates no key).
pub(crate) fn checking_key(given: Option<&str>, key_file: &Path) -> Result<String, Failure> {
    if let Some(k) = given {
        let k = k.trim();
        if comptoir_core::hex::unhex(k).is_none_or(|b| b.len() != 32) {
            return Err(Failure::usage(format!(
                "--public-key: expected 64 hexadecimal digits (comptoir fiscal key), got {k:?}"
            )));
        }
        return Ok(k.to_ascii_lowercase());
    }
    if !key_file.exists() {
        return Err(Failure {
            code: 3,
            message: format!(
                "no fiscal key file {}: give the public key the archive must be signed by with --public-key HEX",
                key_file.display()
            ),
        });
    }
    Ok(crate::fiscal::load_key(key_file)?.public_hex())
}

/// What an archive's ZIP holds: the manifest's and signature's bytes, every member's digest.
struct Opened {
    manifest: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    members: Vec<FileEntry>,
}

fn open_zip(path: &Path) -> Result<ZipArchive<BufReader<File>>, Failure> {
    let f = File::open(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    ZipArchive::new(BufReader::new(f))
        .map_err(|e| io_failure(path, format!("not a readable ZIP archive: {e}")))
}

/// Reads every member once, hashing it as it streams.
fn read_members(path: &Path) -> Result<Opened, Failure> {
    let mut zip = open_zip(path)?;
    let mut opened = Opened {
        manifest: None,
        signature: None,
        members: Vec::new(),
    };
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| io_failure(path, e))?;
        let name = f.name().map_err(|e| io_failure(path, e))?.into_owned();
        let keep = name == MANIFEST || name == SIGNATURE;
        let mut kept = Vec::new();
        let mut digest = FileDigest::default();
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| io_failure(path, format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            digest.update(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        if name == MANIFEST && opened.manifest.is_none() {
            opened.manifest = Some(kept);
        } else if name == SIGNATURE && opened.signature.is_none() {
            opened.signature = Some(kept);
        }
        opened.members.push(digest.finish(&name));
    }
    Ok(opened)
}

/// Checks an archive file against `public_key`: its manifest and every finding.
fn check_file(path: &Path, public_key: &str) -> Result<(Option<Manifest>, Vec<Finding>), Failure> {
    let o = read_members(path)?;
    Ok(archive::check(
        o.manifest.as_deref(),
        o.signature.as_deref(),
        public_key,
        &o.members,
    ))
}

/// `comptoir archive verify FILE [--public-key HEX]`.
fn verify_file(path: &Path, public_key: Option<&str>, key_file: &Path) -> Result<(), Failure> {
    let key = checking_key(public_key, key_file)?;
    let (manifest, findings) = check_file(path, &key)?;
    if findings.is_empty()
        && let Some(m) = manifest
    {
        println!(
            "archive ok: shop {}, period {}, {} files, signed by {key}",
            m.shop_id,
            m.period,
            m.files.len()
        );
        return Ok(());
    }
    for f in &findings {
        eprintln!("{}: {f}", path.display());
    }
    Err(Failure {
        code: 1,
        message: format!(
            "{}: the archive is not intact ({} problem{})",
            path.display(),
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        ),
    })
}

/// The period's span in the shop's time zone.
async fn span_of(store: &Store, shop: i64, period: &Period) -> Result<Span, Failure> {
    let s = require_shop(store, shop).await?;
    let tz = jiff::tz::TimeZone::get(s.timezone.as_str())
        .map_err(|e| Failure::usage(format!("shop {shop}: time zone: {e}")))?;
    let (from, to) = period
        .bounds(&tz)
        .map_err(|e| Failure::usage(format!("--period {period}: {e}")))?;
    Ok(Span {
        shop_id: shop,
        from,
        to,
    })
}

/// Streams every row of `table` as CSV through `sink`, page by page; the rows written.
fn each_csv_chunk(
    c: &mut dyn comptoir_store::db::Conn,
    table: &Table,
    span: &Span,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut w = comptoir_render::archive::begin(table.columns, &mut out);
    table.each_page(c, span, PAGE, &mut |rows: &[Vec<Field>]| {
        for r in rows {
            comptoir_render::archive::row(&mut w, r, &mut out);
        }
        sink(&out)?;
        out.clear();
        Ok::<(), Failure>(())
    })?;
    let rows = w.rows();
    w.end(&mut out);
    sink(&out)?;
    Ok(rows)
}

/// `comptoir archive --shop ID --period YYYY-MM|YYYY --output FILE`.
pub(crate) async fn run(store: Store, key_file: PathBuf, args: ArchiveArgs) -> Result<(), Failure> {
    let (Some(shop), Some(period), Some(output)) = (args.shop, args.period, args.output) else {
        return Err(Failure::usage("expected --shop, --period and --output"));
    };
    let period = Period::parse(&period).map_err(|e| Failure::usage(e.to_string()))?;
    let span = span_of(&store, shop, &period).await?;
    if output.exists() {
        return Err(Failure::usage(format!(
            "--output {}: the file exists; an archive is never overwritten",
            output.display()
        )));
    }
    let key = crate::fiscal::load_key(&key_file)?;
    // Written beside the output, then renamed: the archive appears whole or not at all.
    let tmp = output.with_file_name(format!(
        ".{}.tmp",
        output
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("archive")
    ));
    let tmp2 = tmp.clone();
    let written = store
        .read(move |c| {
            snapshot(c, |c| {
                let last = comptoir_store::archive::last_closed_month(c, shop)?
                    .and_then(|m| format!("{m}-01").parse::<jiff::civil::Date>().ok());
                archive::check_closed(&period, last).map_err(|e| Failure::usage(e.to_string()))?;
                let closings = comptoir_store::archive::closings(c, &span)?;
                write_zip(c, &tmp2, &span, &period, &key, closings)
            })
        })
        .await;
    let files = match written {
        Ok(files) => files,
        Err(f) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(f);
        }
    };
    std::fs::rename(&tmp, &output).map_err(|e| io_failure(&output, e))?;
    // The archive is logged in the shop's events journal; an archive whose event cannot be
    // written is not handed out (the file is removed), as a report is not.
    let mut digest = FileDigest::default();
    digest.update(&files.0.to_bytes());
    let made = comptoir_core::event::Event::ArchiveCreated {
        period: files.0.period.clone(),
        manifest_sha256: digest.finish(MANIFEST).sha256,
    };
    if let Err(e) = store
        .write(move |c| crate::events::append(c, shop, made))
        .await
    {
        let _ = std::fs::remove_file(&output);
        return Err(e.into());
    }
    println!(
        "archive {}: shop {shop}, period {}",
        output.display(),
        files.0.period
    );
    for (f, rows) in files.0.files.iter().zip(&files.1) {
        println!("  {:<14} {rows:>8} rows  sha256 {}", f.name, f.sha256);
    }
    Ok(())
}

fn write_zip(
    c: &mut dyn comptoir_store::db::Conn,
    path: &Path,
    span: &Span,
    period: &Period,
    key: &comptoir_core::fiscal_key::FiscalKey,
    closings: Vec<archive::ClosingRef>,
) -> Result<(Manifest, Vec<u64>), Failure> {
    let file = File::create_new(path).map_err(|e| io_failure(path, e))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    // ZIP64 sizes, so that a year of a busy shop may exceed 4 GiB in one file.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let mut files = Vec::new();
    let mut rows = Vec::new();
    for table in TABLES {
        zip.start_file(table.name, options)
            .map_err(|e| io_failure(path, e))?;
        let mut digest = FileDigest::default();
        let written = each_csv_chunk(c, table, span, &mut |bytes| {
            digest.update(bytes);
            zip.write_all(bytes).map_err(|e| io_failure(path, e))
        })?;
        files.push(digest.finish(table.name));
        rows.push(written);
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        shop_id: span.shop_id,
        period: period.to_string(),
        from: span.from,
        to: span.to,
        generated_at: jiff::Timestamp::now().to_string(),
        public_key: key.public_hex(),
        files,
        closings,
    };
    let bytes = manifest.to_bytes();
    for (name, data) in [
        (MANIFEST, bytes.clone()),
        (
            SIGNATURE,
            Manifest::signature_text(&bytes, key).into_bytes(),
        ),
    ] {
        zip.start_file(name, options)
            .map_err(|e| io_failure(path, e))?;
        zip.write_all(&data).map_err(|e| io_failure(path, e))?;
    }
    let mut out = zip.finish().map_err(|e| io_failure(path, e))?;
    out.flush().map_err(|e| io_failure(path, e))?;
    out.get_ref().sync_all().map_err(|e| io_failure(path, e))?;
    Ok((manifest, rows))
}

/// What `verify --against` found: the archive's own problems, then each file's report.
pub(crate) struct Against {
    pub(crate) findings: Vec<Finding>,
    pub(crate) files: Vec<FileReport>,
    /// Files the database cannot re-export (unknown to this version).
    pub(crate) unknown: Vec<String>,
}

impl Against {
    pub(crate) fn ok(&self) -> bool {
        self.findings.is_empty()
            && self.unknown.is_empty()
            && self.files.iter().all(|f| f.wrong == 0)
    }

    /// Rows of the period the database holds beyond the archive's: recorded after it,
    /// not a difference.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.added > 0)
            .map(|f| {
                format!(
                    "{}: the database holds {} more row(s) of the period than the archive (recorded after it)",
                    f.name, f.added
                )
            })
            .collect()
    }

    /// One line per problem.
    pub(crate) fn lines(&self, archive: &Path) -> Vec<String> {
        let mut out: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("archive {}: {f}", archive.display()))
            .collect();
        out.extend(
            self.unknown
                .iter()
                .map(|n| format!("{n}: this version of Comptoir cannot re-export it")),
        );
        for f in &self.files {
            out.extend(f.differences.iter().map(|d| format!("{}: {d}", f.name)));
            let shown = f.differences.len() as u64;
            if f.wrong > shown {
                out.push(format!("{}: … and {} more", f.name, f.wrong - shown));
            }
        }
        out
    }
}

/// `verify --against`'s outcome for printing: whether the database holds the archive,
/// the problems, the notes.
pub(crate) type AgainstLines = (bool, Vec<String>, Vec<String>);

/// [`against`] when `--against` was given, as lines.
pub(crate) async fn report_against(
    store: &Store,
    shop: i64,
    path: Option<PathBuf>,
    public_key: &Option<String>,
    key_file: &Path,
) -> Result<Option<AgainstLines>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let found = against(store, shop, &path, public_key.as_deref(), key_file).await?;
    Ok(Some((found.ok(), found.lines(&path), found.notes())))
}

/// Prints `--against`'s outcome in text mode (problems on stderr, the verdict and notes on
/// stdout); whether the database holds the archive (true without `--against`).
pub(crate) fn print_against(json: bool, against: Option<&AgainstLines>) -> bool {
    let Some((ok, problems, notes)) = against else {
        return true;
    };
    if !json {
        for p in problems {
            eprintln!("{p}");
        }
        if *ok {
            println!("archive ok: the database still holds every row of the archive, unchanged");
        }
        for n in notes {
            println!("{n}");
        }
    }
    *ok
}

/// `verify --json`'s object with `"against":{"ok","problems","notes"}` added.
pub(crate) fn with_against(
    mut v: serde_json::Value,
    against: Option<&AgainstLines>,
) -> serde_json::Value {
    if let Some((ok, problems, notes)) = against {
        v["against"] = serde_json::json!({"ok": ok, "problems": problems, "notes": notes});
    }
    v
}

/// `verify --against ARCHIVE`: the archive must be intact (signed by `public_key`, else the
/// key file's public half) and of this shop; then each of its files is re-exported from
/// the database and compared row by row.
pub(crate) async fn against(
    store: &Store,
    shop: i64,
    path: &Path,
    public_key: Option<&str>,
    key_file: &Path,
) -> Result<Against, Failure> {
    let key = checking_key(public_key, key_file)?;
    let (manifest, findings) = check_file(path, &key)?;
    let Some(manifest) = manifest.filter(|_| findings.is_empty()) else {
        return Ok(Against {
            findings,
            files: vec![],
            unknown: vec![],
        });
    };
    if manifest.shop_id != shop {
        return Err(Failure::usage(format!(
            "--against {}: the archive is of shop {}, not of shop {shop}",
            path.display(),
            manifest.shop_id
        )));
    }
    require_shop(store, shop).await?;
    let span = Span {
        shop_id: shop,
        from: manifest.from,
        to: manifest.to,
    };
    let path = path.to_path_buf();
    store
        .read(move |c| snapshot(c, |c| compare(c, &path, &span, &manifest)))
        .await
}

fn compare(
    c: &mut dyn comptoir_store::db::Conn,
    path: &Path,
    span: &Span,
    manifest: &Manifest,
) -> Result<Against, Failure> {
    let mut zip = open_zip(path)?;
    let mut result = Against {
        findings: vec![],
        files: vec![],
        unknown: vec![],
    };
    for entry in &manifest.files {
        let Some(table) = Table::named(&entry.name) else {
            result.unknown.push(entry.name.clone());
            continue;
        };
        let member = zip.by_name(&entry.name).map_err(|e| io_failure(path, e))?;
        let mut archived = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(member);
        let header: Vec<String> = archived
            .headers()
            .map_err(|e| io_failure(path, format!("{}: {e}", entry.name)))?
            .iter()
            .map(str::to_string)
            .collect();
        if header != table.columns {
            return Err(io_failure(
                path,
                format!(
                    "{}: its columns are not this version's: {header:?}",
                    entry.name
                ),
            ));
        }
        let mut records = archived.into_records();
        let mut next = || {
            records
                .next()
                .and_then(Result::ok)
                .map(|r| r.iter().map(str::to_string).collect::<Vec<_>>())
        };
        let mut diff = FileDiff::new(&entry.name, table.columns, table.keys());
        let mut parse_error = None;
        let mut header = true;
        each_csv_chunk(c, table, span, &mut |bytes| {
            // The database's rows written as the archive writes them, then read back the
            // same way as the archive's: both sides compare as the CSV cells they are.
            let mut rows = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            for r in rows.records() {
                match r {
                    Ok(_) if header => header = false,
                    Ok(r) => {
                        let cells: Vec<String> = r.iter().map(str::to_string).collect();
                        diff.database_row(&cells, &mut next);
                    }
                    Err(e) => parse_error = Some(e.to_string()),
                }
            }
            Ok(())
        })?;
        if let Some(e) = parse_error {
            return Err(io_failure(path, format!("{}: {e}", entry.name)));
        }
        result.files.push(diff.finish(&mut next));
    }
    Ok(result)
}
