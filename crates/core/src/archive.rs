//! The signed archive of a closed period (issue #11): the period and the rule that says
//! when it may be archived, the manifest (serde JSON signed with the fiscal key), the
//! digest of each file, and the checks an archive must pass. Reading and writing the ZIP
//! is the CLI's job; the rows come from store::archive. docs/inalterability.md describes
//! the format.

pub mod diff;

use crate::fiscal_key::{self, FiscalKey};
use crate::hex::{hex, unhex};
use crate::report::ReportDay;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The manifest's `format`: versions the archive's layout.
pub const FORMAT: &str = "comptoir-archive-1";
/// The manifest's name in the ZIP.
pub const MANIFEST: &str = "manifest.json";
/// The detached signature's name in the ZIP: the Ed25519 signature of the manifest's exact
/// bytes, 128 hexadecimal digits and a newline.
pub const SIGNATURE: &str = "manifest.sig";

/// A calendar month or year of a shop, in its time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Month { year: i16, month: i8 },
    Year(i16),
}

/// Why a period cannot be archived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("--period: expected YYYY-MM or YYYY (a month or a year), got {0:?}")]
    BadPeriod(String),
    #[error(
        "--period {period}: not closed yet: its last day {last_day} has no daily closing ({closed}); close it first (comptoir close --shop ID --day {last_day})"
    )]
    NotClosed {
        period: Period,
        last_day: Date,
        closed: String,
    },
}

impl Period {
    /// `2026-11` (a month) or `2026` (a year), years 1900 to 9998.
    pub fn parse(text: &str) -> Result<Period, ArchiveError> {
        let t = text.trim();
        let bad = || ArchiveError::BadPeriod(text.to_string());
        let year = |y: &str| -> Result<i16, ArchiveError> {
            if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            y.parse::<i16>()
                .ok()
                .filter(|y| (1900..=9998).contains(y))
                .ok_or_else(bad)
        };
        match t.split_once('-') {
            None => Ok(Period::Year(year(t)?)),
            Some((y, m)) => {
                let month = (m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| m.parse::<i8>().ok())
                    .flatten()
                    .filter(|m| (1..=12).contains(m))
                    .ok_or_else(bad)?;
                Ok(Period::Month {
                    year: year(y)?,
                    month,
                })
            }
        }
    }

    /// The period's first day.
    pub fn first_day(&self) -> Date {
        match *self {
            Period::Month { year, month } => Date::constant(year, month, 1),
            Period::Year(year) => Date::constant(year, 1, 1),
        }
    }

    /// The period's last day.
    pub fn last_day(&self) -> Date {
        match *self {
            Period::Month { .. } => self.first_day().last_of_month(),
            Period::Year(year) => Date::constant(year, 12, 31),
        }
    }

    /// Whether `date` falls in the period.
    pub fn contains(&self, date: Date) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }

    /// The value dates the period covers in `tz`, in microseconds: from the first day's
    /// local midnight to the midnight after its last day (the daily report's bounds).
    pub fn bounds(&self, tz: &TimeZone) -> Result<(i64, i64), String> {
        let first = ReportDay::of(self.first_day(), tz).map_err(|e| e.message)?;
        let last = ReportDay::of(self.last_day(), tz).map_err(|e| e.message)?;
        Ok((first.from, last.to))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Year(year) => write!(f, "{year:04}"),
        }
    }
}

/// THE rule of what may be archived: a period is closed when the shop's daily closings
/// cover its last day (`last_closed` is the shop's last closed day). When monthly and
/// yearly closings exist, this becomes "the period's own closing exists".
pub fn check_closed(period: &Period, last_closed: Option<Date>) -> Result<(), ArchiveError> {
    let last_day = period.last_day();
    match last_closed {
        Some(d) if d >= last_day => Ok(()),
        other => Err(ArchiveError::NotClosed {
            period: *period,
            last_day,
            closed: other.map_or_else(
                || "the shop has no closing yet".to_string(),
                |d| format!("the last closed day is {d}"),
            ),
        }),
    }
}

/// One value of an archived row: what a CSV cell of the archive holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Null,
    Int(i64),
    Text(String),
}

/// One file of the archive as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hexadecimal.
    pub sha256: String,
}

/// A closing of the period as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingRef {
    pub number: i64,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The journal head the closing vouches for.
    pub head: String,
    /// Its Ed25519 signature (hex).
    pub signature: String,
}

/// The archive's manifest. Its exact bytes (as written, [`Manifest::to_bytes`]) are what
/// `manifest.sig` signs; readers parse them, they never re-serialise them to check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    pub shop_id: i64,
    /// `YYYY-MM` or `YYYY`.
    pub period: String,
    /// The value dates covered, microseconds: `[from, to)`.
    pub from: i64,
    pub to: i64,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// The fiscal key's public half that signs the manifest, hex.
    pub public_key: String,
    pub files: Vec<FileEntry>,
    /// The period's closings, oldest first.
    pub closings: Vec<ClosingRef>,
}

impl Manifest {
    /// The bytes written to `manifest.json`: indented JSON and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Strings, integers and vectors of them always serialise.
        let mut b = serde_json::to_vec_pretty(self).unwrap_or_default();
        b.push(b'\n');
        b
    }

    /// The text of `manifest.sig` for `bytes` (the manifest's exact bytes).
    pub fn signature_text(bytes: &[u8], key: &FiscalKey) -> String {
        let mut s = key.sign(bytes);
        s.push('\n');
        s
    }
}

/// Size and SHA-256 of a file as it is written or read, chunk by chunk.
#[derive(Clone, Default)]
pub struct FileDigest {
    size: u64,
    hash: Sha256,
}

impl FileDigest {
    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.hash.update(bytes);
    }

    pub fn finish(self, name: &str) -> FileEntry {
        FileEntry {
            name: name.to_string(),
            size: self.size,
            sha256: hex(&self.hash.finalize()),
        }
    }
}

/// Something wrong with an archive. Each names what an auditor needs to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// No `manifest.json` or no `manifest.sig` in the ZIP.
    Missing(&'static str),
    /// `manifest.json` is not a manifest of this format.
    ManifestUnreadable(String),
    /// `manifest.sig` does not sign the manifest's bytes with the key checked against.
    SignatureInvalid { key: String },
    /// The manifest names another public key than the one checked against.
    KeyMismatch { manifest: String, given: String },
    /// A file the manifest lists is not in the ZIP.
    FileMissing(String),
    /// A file in the ZIP that the manifest does not list.
    FileAdded(String),
    /// The same name twice in the ZIP or in the manifest.
    Duplicate(String),
    SizeMismatch {
        name: String,
        manifest: u64,
        actual: u64,
    },
    HashMismatch {
        name: String,
        manifest: String,
        actual: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Missing(name) => write!(f, "{name} is missing from the archive"),
            Finding::ManifestUnreadable(e) => write!(f, "{MANIFEST} cannot be read: {e}"),
            Finding::SignatureInvalid { key } => write!(
                f,
                "{SIGNATURE} is not a valid signature of {MANIFEST} by the public key {key}"
            ),
            Finding::KeyMismatch { manifest, given } => write!(
                f,
                "{MANIFEST} names the public key {manifest}, not the key checked against {given}"
            ),
            Finding::FileMissing(name) => {
                write!(
                    f,
                    "{name}: listed in {MANIFEST} but missing from the archive"
                )
            }
            Finding::FileAdded(name) => {
                write!(f, "{name}: in the archive but not listed in {MANIFEST}")
            }
            Finding::Duplicate(name) => write!(f, "{name}: present twice"),
            Finding::SizeMismatch {
                name,
                manifest,
                actual,
            } => write!(
                f,
                "{name}: {actual} bytes, but {MANIFEST} says {manifest} bytes"
            ),
            Finding::HashMismatch {
                name,
                manifest,
                actual,
            } => write!(
                f,
                "{name}: SHA-256 {actual}, but {MANIFEST} says {manifest}"
            ),
        }
    }
}

/// Checks an archive from what its ZIP holds: the manifest's bytes and the signature's
/// text (when present), and the digest of every other member. The manifest must be signed
/// by `public_key` (hex) and name it; every listed file must be present with its size and
/// hash, and nothing else may be. Gives the manifest when it could be read, and every
/// finding (none: the archive is intact).
pub fn check(
    manifest: Option<&[u8]>,
    signature: Option<&[u8]>,
    public_key: &str,
    members: &[FileEntry],
) -> (Option<Manifest>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut seen = BTreeMap::new();
    for m in members {
        if seen.insert(m.name.as_str(), m).is_some() {
            findings.push(Finding::Duplicate(m.name.clone()));
        }
    }
    let Some(manifest_bytes) = manifest else {
        findings.push(Finding::Missing(MANIFEST));
        return (None, findings);
    };
    let signed = signature
        .and_then(|s| std::str::from_utf8(s).ok())
        .is_some_and(|s| {
            let s = s.trim();
            unhex(s).is_some() && fiscal_key::verify(public_key, manifest_bytes, s)
        });
    match signature {
        None => findings.push(Finding::Missing(SIGNATURE)),
        Some(_) if !signed => findings.push(Finding::SignatureInvalid {
            key: public_key.to_string(),
        }),
        Some(_) => {}
    }
    let parsed = match serde_json::from_slice::<Manifest>(manifest_bytes) {
        Ok(m) if m.format == FORMAT => m,
        Ok(m) => {
            findings.push(Finding::ManifestUnreadable(format!(
                "format {:?}, expected {FORMAT:?}",
                m.format
            )));
            return (None, findings);
        }
        Err(e) => {
            findings.push(Finding::ManifestUnreadable(e.to_string()));
            return (None, findings);
        }
    };
    if !parsed.public_key.eq_ignore_ascii_case(public_key) {
        findings.push(Finding::KeyMismatch {
            manifest: parsed.public_key.clone(),
            given: public_key.to_string(),
        });
    }
    let mut listed = BTreeMap::new();
    for f in &parsed.files {
        if listed.insert(f.name.as_str(), f).is_some() || [MANIFEST, SIGNATURE].contains(&&*f.name)
        {
            findings.push(Finding::Duplicate(f.name.clone()));
        }
    }
    for (name, want) in &listed {
        match seen.get(name) {
            None => findings.push(Finding::FileMissing(name.to_string())),
            Some(got) if got.size != want.size => findings.push(Finding::SizeMismatch {
                name: name.to_string(),
                manifest: want.size,
                actual: got.size,
            }),
            Some(got) if !got.sha256.eq_ignore_ascii_case(&want.sha256) => {
                findings.push(Finding::HashMismatch {
                    name: name.to_string(),
                    manifest: want.sha256.clone(),
                    actual: got.sha256.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for name in seen.keys() {
        if !listed.contains_key(name) && ![MANIFEST, SIGNATURE].contains(name) {
            findings.push(Finding::FileAdded(name.to_string()));
        }
    }
    (Some(parsed), findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(name: &str, bytes: &[u8]) -> FileEntry {
        let mut d = FileDigest::default();
        for chunk in bytes.chunks(3) {
            d.update(chunk);
        }
        d.finish(name)
    }

    #[test]
    fn periods_parse_into_their_days() {
        let m = Period::parse(" 2026-02 ").unwrap();
        assert_eq!(m.to_string(), "2026-02");
        assert_eq!(
            (m.first_day(), m.last_day()),
            (Date::constant(2026, 2, 1), Date::constant(2026, 2, 28))
        );
        let y = Period::parse("2024").unwrap();
        assert_eq!(y.last_day(), Date::constant(2024, 12, 31));
        assert!(y.contains(Date::constant(2024, 2, 29)));
        assert!(!m.contains(Date::constant(2026, 3, 1)));
        for bad in [
            "",
            "2026-13",
            "2026-1",
            "26",
            "2026-02-01",
            "abcd",
            "1899",
            "+202",
        ] {
            let e = Period::parse(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("--period: expected YYYY-MM or YYYY")
            );
        }
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let (from, to) = m.bounds(&tz).unwrap();
        // February 2026 in Paris: 28 days of 24 hours, from 31 January 23:00 UTC.
        assert_eq!(to - from, 28 * 24 * 3_600_000_000);
        assert_eq!(from, 1_769_900_400_000_000);
    }

    #[test]
    fn a_period_is_closed_when_the_closings_cover_its_last_day() {
        let p = Period::parse("2026-03").unwrap();
        assert_eq!(check_closed(&p, Some(Date::constant(2026, 3, 31))), Ok(()));
        assert_eq!(check_closed(&p, Some(Date::constant(2026, 4, 2))), Ok(()));
        let e = check_closed(&p, Some(Date::constant(2026, 3, 30))).unwrap_err();
        assert!(
            e.to_string().contains(
                "its last day 2026-03-31 has no daily closing (the last closed day is 2026-03-30)"
            ),
            "{e}"
        );
        let e = check_closed(&p, None).unwrap_err();
        assert!(e.to_string().contains("no closing yet"), "{e}");
    }

    fn signed(files: Vec<FileEntry>, key: &FiscalKey) -> (Vec<u8>, String) {
        let m = Manifest {
            format: FORMAT.into(),
            shop_id: 1,
            period: "2026-03".into(),
            from: 0,
            to: 1,
            generated_at: "2026-04-01T00:00:00Z".into(),
            public_key: key.public_hex(),
            files,
            closings: vec![],
        };
        let bytes = m.to_bytes();
        let sig = Manifest::signature_text(&bytes, key);
        (bytes, sig)
    }

    #[test]
    fn an_intact_archive_passes_and_each_tampering_is_found() {
        let key = FiscalKey::from_seed([5; 32]);
        let pk = key.public_hex();
        let a = digest("a.csv", b"id\r\n1\r\n");
        let b = digest("b.csv", b"");
        let (bytes, sig) = signed(vec![a.clone(), b.clone()], &key);
        let members = vec![a.clone(), b.clone()];
        let (m, found) = check(Some(&bytes), Some(sig.as_bytes()), &pk, &members);
        assert_eq!(found, vec![]);
        assert_eq!(m.unwrap().files.len(), 2);

        let changed = digest("a.csv", b"id\r\n2\r\n");
        let (_, found) = check(
            Some(&bytes),
            Some(sig.as_bytes()),
            &pk,
            &[changed, b.clone()],
        );
        assert!(matches!(&found[..], [Finding::HashMismatch { name, .. }] if name == "a.csv"));
        let (_, found) = check(
            Some(&bytes),
            Some(sig.as_bytes()),
            &pk,
            std::slice::from_ref(&b),
        );
        assert_eq!(found, vec![Finding::FileMissing("a.csv".into())]);
        let extra = digest("x.csv", b"x");
        let (_, found) = check(
            Some(&bytes),
            Some(sig.as_bytes()),
            &pk,
            &[a.clone(), b.clone(), extra],
        );
        assert_eq!(found, vec![Finding::FileAdded("x.csv".into())]);
        let other = FiscalKey::from_seed([6; 32]);
        let (_, forged) = signed(vec![a.clone(), b.clone()], &other);
        let (_, found) = check(Some(&bytes), Some(forged.as_bytes()), &pk, &members);
        assert_eq!(found, vec![Finding::SignatureInvalid { key: pk.clone() }]);
        // A manifest re-signed with another key names that key: pinning the key refuses it.
        let (bytes2, sig2) = signed(vec![a.clone(), b.clone()], &other);
        let (_, found) = check(Some(&bytes2), Some(sig2.as_bytes()), &pk, &members);
        assert_eq!(found.len(), 2, "{found:?}");
        let mut edited = bytes.clone();
        let at = edited
            .windows(11)
            .position(|w| w == b"\"shop_id\": ")
            .unwrap();
        edited[at + 11] = b'2';
        let (_, found) = check(Some(&edited), Some(sig.as_bytes()), &pk, &members);
        assert_eq!(found, vec![Finding::SignatureInvalid { key: pk.clone() }]);
        let (_, found) = check(Some(&bytes), None, &pk, &members);
        assert_eq!(found, vec![Finding::Missing(SIGNATURE)]);
        let (_, found) = check(None, Some(sig.as_bytes()), &pk, &members);
        assert_eq!(found, vec![Finding::Missing(MANIFEST)]);
        let (m, found) = check(Some(b"{}"), Some(sig.as_bytes()), &pk, &members);
        assert!(m.is_none());
        assert!(matches!(found.last(), Some(Finding::ManifestUnreadable(_))));
    }
}
