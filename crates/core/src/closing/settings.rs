//! A shop's fiscal settings (the first month of its fiscal year, its closing hour) and the
//! automatic closing's rule: which closing is due next, and when.

use super::ClosingError;
use super::period::{Kind, Period};
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The first month of the fiscal year (1–12) and the local time (minutes after midnight)
/// at which the previous day closes. Held valid by [`FiscalSettings::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiscalSettings {
    first_month: i8,
    closing_minute: i16,
}

impl Default for FiscalSettings {
    /// January, 04:00: a bar's late sales still land in their evening before it closes.
    fn default() -> Self {
        FiscalSettings {
            first_month: 1,
            closing_minute: 4 * 60,
        }
    }
}

impl FiscalSettings {
    /// `Err` names what was expected.
    pub fn new(first_month: i64, closing_minute: i64) -> Result<FiscalSettings, &'static str> {
        let first_month = i8::try_from(first_month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or("a first month from 1 to 12")?;
        let closing_minute = i16::try_from(closing_minute)
            .ok()
            .filter(|m| (0..24 * 60).contains(m))
            .ok_or("a closing hour from 00:00 to 23:59")?;
        Ok(FiscalSettings {
            first_month,
            closing_minute,
        })
    }

    pub fn first_month(&self) -> i8 {
        self.first_month
    }

    /// Minutes after local midnight.
    pub fn closing_minute(&self) -> i16 {
        self.closing_minute
    }

    /// `HH:MM`.
    pub fn closing_hour(&self) -> String {
        format!(
            "{:02}:{:02}",
            self.closing_minute / 60,
            self.closing_minute % 60
        )
    }

    /// The instant `date` closes by itself: the next day at the closing hour, local (on a
    /// DST day an hour the clocks skip is read as the hour after the jump).
    pub fn closes_at(&self, date: Date, tz: &TimeZone) -> Result<jiff::Timestamp, ClosingError> {
        let next = date.tomorrow().map_err(|_| ClosingError::Overflow)?;
        let time = jiff::civil::Time::new(
            (self.closing_minute / 60) as i8,
            (self.closing_minute % 60) as i8,
            0,
            0,
        )
        .map_err(|_| ClosingError::Overflow)?;
        next.to_datetime(time)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| ClosingError::Zone(e.to_string()))
    }
}

/// `first month` as the CLI takes it: `1` to `12`.
pub fn parse_first_month(text: &str) -> Result<i64, &'static str> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or("a month number from 1 to 12")
}

/// A closing hour `HH:MM` (24-hour clock) as minutes after midnight.
pub fn parse_closing_hour(text: &str) -> Result<i64, &'static str> {
    const EXPECTED: &str = "a time as HH:MM, from 00:00 to 23:59";
    let (h, m) = text.trim().split_once(':').ok_or(EXPECTED)?;
    let two = |t: &str| {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
    };
    match (two(h), two(m)) {
        (Some(h), Some(m)) if h < 24 && m < 60 => Ok(h * 60 + m),
        _ => Err(EXPECTED),
    }
}

/// What a shop has closed so far, as the automatic closing needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closed {
    /// The day of the shop's first validated sale (by value date), if any.
    pub first_activity: Option<Date>,
    /// The first and the last closed day.
    pub first_day: Option<Date>,
    pub last_day: Option<Date>,
    /// The last closed month and fiscal year.
    pub last_month: Option<Period>,
    pub last_year: Option<Period>,
}

/// The closing due next at `now`, if any: a month whose last day is closed, then a fiscal
/// year whose last month is, then the day after the last closed one (or the day of the first
/// sale) once its closing hour has passed. Every day from the first sale on closes, those
/// without sales with zeros, so that months and years close on time.
pub fn next_due(
    closed: &Closed,
    settings: &FiscalSettings,
    tz: &TimeZone,
    now: jiff::Timestamp,
) -> Result<Option<Period>, ClosingError> {
    if let (Some(first), Some(last)) = (closed.first_day, closed.last_day) {
        let month = match &closed.last_month {
            Some(m) => m.next()?,
            None => Period::month_of(first),
        };
        if month.last_day()? <= last {
            return Ok(Some(month));
        }
        if let Some(last_month) = &closed.last_month {
            let year = match &closed.last_year {
                Some(y) => y.next()?,
                None => Period::year_of(first, settings.first_month()),
            };
            if year.last_day()? <= last_month.last_day()? {
                return Ok(Some(year));
            }
        }
    }
    match next_day(closed)? {
        Some(day) if settings.closes_at(day, tz)? <= now => Ok(Some(Period::day(day))),
        _ => Ok(None),
    }
}

/// When the next day closes by itself, if the shop has sold anything: the time to wake.
pub fn next_closing_time(
    closed: &Closed,
    settings: &FiscalSettings,
    tz: &TimeZone,
) -> Result<Option<jiff::Timestamp>, ClosingError> {
    next_day(closed)?
        .map(|d| settings.closes_at(d, tz))
        .transpose()
}

fn next_day(closed: &Closed) -> Result<Option<Date>, ClosingError> {
    Ok(match closed.last_day {
        Some(d) => Some(d.tomorrow().map_err(|_| ClosingError::Overflow)?),
        None => closed.first_activity,
    })
}

impl Kind {
    /// The CLI option naming a period of this kind.
    pub fn option(self) -> &'static str {
        match self {
            Kind::Day => "--day",
            Kind::Month => "--month",
            Kind::Year => "--year",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn settings_parse_and_refuse_what_is_out_of_range() {
        assert_eq!(parse_closing_hour("04:00"), Ok(240));
        assert_eq!(parse_closing_hour("23:59"), Ok(1439));
        for bad in ["24:00", "4:00", "04:60", "0400", ""] {
            assert!(parse_closing_hour(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_first_month("4"), Ok(4));
        assert!(parse_first_month("13").is_err() && parse_first_month("x").is_err());
        assert!(FiscalSettings::new(0, 0).is_err() && FiscalSettings::new(1, 1440).is_err());
        let s = FiscalSettings::new(4, 30).unwrap();
        assert_eq!(
            (s.first_month(), s.closing_hour()),
            (4, "00:30".to_string())
        );
        assert_eq!(FiscalSettings::default().closing_hour(), "04:00");
    }

    #[test]
    fn a_day_closes_the_next_morning_at_the_closing_hour_local() {
        let s = FiscalSettings::default();
        // 28 March 2026: the next day, 29 March, is the 23-hour day (02:00 → 03:00).
        assert_eq!(
            s.closes_at(Date::constant(2026, 3, 28), &paris()).unwrap(),
            ts("2026-03-29T02:00:00Z")
        );
        assert_eq!(
            s.closes_at(Date::constant(2026, 3, 29), &paris()).unwrap(),
            ts("2026-03-30T02:00:00Z")
        );
        // A closing hour the clocks skip is read after the jump.
        let early = FiscalSettings::new(1, 150).unwrap();
        assert_eq!(
            early
                .closes_at(Date::constant(2026, 3, 28), &paris())
                .unwrap(),
            ts("2026-03-29T01:30:00Z")
        );
    }

    #[test]
    fn days_then_their_month_then_the_year_fall_due() {
        let s = FiscalSettings::default();
        let tz = paris();
        let mut c = Closed {
            first_activity: Some(Date::constant(2026, 12, 30)),
            ..Closed::default()
        };
        // Before 04:00 on the 31st, nothing; after, the 30th.
        assert_eq!(next_due(&c, &s, &tz, ts("2026-12-31T02:59:00Z")), Ok(None));
        assert_eq!(
            next_due(&c, &s, &tz, ts("2026-12-31T03:00:00Z")),
            Ok(Some(Period::day(Date::constant(2026, 12, 30))))
        );
        c.first_day = Some(Date::constant(2026, 12, 30));
        c.last_day = Some(Date::constant(2026, 12, 31));
        let december = Period::month_of(Date::constant(2026, 12, 1));
        assert_eq!(
            next_due(&c, &s, &tz, ts("2027-01-01T03:00:00Z")),
            Ok(Some(december))
        );
        c.last_month = Some(december);
        assert_eq!(
            next_due(&c, &s, &tz, ts("2027-01-01T03:00:00Z")),
            Ok(Some(Period::year_of(Date::constant(2026, 12, 30), 1)))
        );
        c.last_year = Some(Period::year_of(Date::constant(2026, 12, 30), 1));
        assert_eq!(next_due(&c, &s, &tz, ts("2027-01-02T02:59:00Z")), Ok(None));
        assert_eq!(
            next_closing_time(&c, &s, &tz),
            Ok(Some(ts("2027-01-02T03:00:00Z")))
        );
    }
}
