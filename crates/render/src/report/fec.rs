//! The FEC (`frafec`): the 18 tab-separated columns of LPF art. A47 A-1, one balanced
//! entry per order (core::report::fec decides the movements), `yyyyMMdd` dates, comma
//! decimals, ISO-8859-15 by default.

use super::SalesWriter;
use comptoir_core::money::Money;
use comptoir_core::report::fec::{FecSettings, entry, entry_label};
use comptoir_core::report::{Report, SaleRow};

/// The header row, exactly as the norm names the columns.
pub(super) const FEC_COLUMNS: [&str; 18] = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
];

pub(super) struct FecReport {
    settings: FecSettings,
    utf8: bool,
    digits: u8,
    tz: jiff::tz::TimeZone,
    /// `EcritureNum`: consecutive from 1 in the file, in value-date order.
    next: u64,
}

/// A character of ISO-8859-15; `?` for what it cannot hold. It is Latin-1 but for eight
/// positions (€ Š š Ž ž Œ œ Ÿ replace ¤ ¦ ¨ ´ ¸ ¼ ½ ¾).
fn latin9(c: char) -> u8 {
    match c {
        '€' => 0xA4,
        'Š' => 0xA6,
        'š' => 0xA8,
        'Ž' => 0xB4,
        'ž' => 0xB8,
        'Œ' => 0xBC,
        'œ' => 0xBD,
        'Ÿ' => 0xBE,
        '\u{A4}' | '\u{A6}' | '\u{A8}' | '\u{B4}' | '\u{B8}' | '\u{BC}' | '\u{BD}' | '\u{BE}' => {
            b'?'
        }
        c if (c as u32) < 0x100 => c as u8,
        _ => b'?',
    }
}

impl FecReport {
    pub(super) fn begin(
        r: &Report,
        settings: FecSettings,
        utf8: bool,
        out: &mut Vec<u8>,
    ) -> FecReport {
        let w = FecReport {
            settings,
            utf8,
            digits: r.digits,
            tz: jiff::tz::TimeZone::get(&r.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
            next: 1,
        };
        w.line(out, &FEC_COLUMNS.map(String::from));
        w
    }

    /// Appends one record: fields joined by tabs (a tab, CR or LF inside becomes a space).
    fn line(&self, out: &mut Vec<u8>, fields: &[String; 18]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            for c in f.chars() {
                let c = if matches!(c, '\t' | '\r' | '\n') {
                    ' '
                } else {
                    c
                };
                if self.utf8 {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                } else {
                    out.push(latin9(c));
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    fn date(&self, micros: i64) -> String {
        jiff::Timestamp::from_microsecond(micros)
            .map(|t| t.to_zoned(self.tz.clone()).strftime("%Y%m%d").to_string())
            .unwrap_or_default()
    }

    /// `1234,50`; `0,00` on the side a movement does not use.
    fn amount(&self, m: Money) -> String {
        comptoir_core::money::format_scaled(m.minor(), self.digits).replace('.', ",")
    }
}

impl SalesWriter for FecReport {
    fn sale(&mut self, s: &SaleRow, out: &mut Vec<u8>) {
        let movements = entry(s, &self.settings);
        if movements.is_empty() {
            return;
        }
        let num = self.next.to_string();
        self.next += 1;
        let date = self.date(s.value_date);
        let valid = self.date(s.validated_at.unwrap_or(s.value_date));
        let piece = s.number.unwrap_or(s.id).to_string();
        let lib = entry_label(s);
        for m in movements {
            let (aux_num, aux_lib) = m.aux.clone().unwrap_or_default();
            let fields = [
                self.settings.journal_code().to_string(),
                self.settings.journal_label().to_string(),
                num.clone(),
                date.clone(),
                m.account,
                m.label,
                aux_num,
                aux_lib,
                piece.clone(),
                date.clone(),
                lib.clone(),
                self.amount(m.debit),
                self.amount(m.credit),
                String::new(),
                String::new(),
                valid.clone(),
                String::new(),
                String::new(),
            ];
            self.line(out, &fields);
        }
    }

    fn finish(self: Box<Self>, _out: &mut Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}
