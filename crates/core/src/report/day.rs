//! The report's day: `d`, `m`, `y` checked into a calendar date, and that date's bounds
//! and hour buckets in the shop's time zone (23 or 25 hours on DST days).

use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A bad `d`, `m` or `y`: the field and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayError {
    pub field: &'static str,
    pub message: String,
}

/// One calendar day of a shop, as a half-open interval of instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportDay {
    pub date: Date,
    /// The first microsecond of the day in the shop's zone.
    pub from: i64,
    /// The first microsecond of the next day.
    pub to: i64,
}

const HOUR: i64 = 3_600_000_000;

impl ReportDay {
    /// The day of `d`, `m`, `y` in `tz`; a missing part comes from yesterday (in `tz`, as of
    /// `now`), so no parameter at all is yesterday. A day in the future is allowed (its
    /// report is empty); one that does not exist (31 February) names the field `d`.
    pub fn parse(
        d: Option<&str>,
        m: Option<&str>,
        y: Option<&str>,
        tz: &TimeZone,
        now: jiff::Timestamp,
    ) -> Result<ReportDay, DayError> {
        let today = now.to_zoned(tz.clone()).date();
        let yesterday = today.yesterday().unwrap_or(today);
        let part =
            |field: &'static str, text: Option<&str>, lo: i64, hi: i64, default: i64| match text
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                None => Ok(default),
                Some(t) => t
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (lo..=hi).contains(v))
                    .ok_or_else(|| DayError {
                        field,
                        message: format!("expected an integer from {lo} to {hi}, got {t:?}"),
                    }),
            };
        let day = part("d", d, 1, 31, i64::from(yesterday.day()))?;
        let month = part("m", m, 1, 12, i64::from(yesterday.month()))?;
        let year = part("y", y, 1900, 9998, i64::from(yesterday.year()))?;
        // The ranges above make the casts lossless.
        let date = Date::new(year as i16, month as i8, day as i8).map_err(|_| DayError {
            field: "d",
            message: format!("{year:04}-{month:02} has no day {day}"),
        })?;
        ReportDay::of(date, tz)
    }

    /// The bounds of `date` in `tz`: local midnight (or the first instant after it when a
    /// DST gap swallows midnight) to the next day's.
    pub fn of(date: Date, tz: &TimeZone) -> Result<ReportDay, DayError> {
        let bound = |d: Date| {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp().as_microsecond())
                .map_err(|e| DayError {
                    field: "y",
                    message: format!("a day this time zone can show ({e})"),
                })
        };
        let next = date.tomorrow().map_err(|_| DayError {
            field: "y",
            message: "a year before 9999".into(),
        })?;
        Ok(ReportDay {
            date,
            from: bound(date)?,
            to: bound(next)?,
        })
    }

    /// How many hour buckets the day has: 24, or 23/25 on a DST change.
    pub fn hours(&self) -> usize {
        ((self.to - self.from + HOUR - 1) / HOUR) as usize
    }

    /// The bucket of an instant of the day: whole hours elapsed since its start, so a
    /// repeated local hour (October) gets a bucket of its own.
    pub fn bucket(&self, micros: i64) -> usize {
        ((micros - self.from).max(0) / HOUR) as usize
    }

    /// The start of bucket `i`, in microseconds.
    pub fn bucket_start(&self, i: usize) -> i64 {
        self.from + i as i64 * HOUR
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        self.date.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn now() -> jiff::Timestamp {
        "2026-03-30T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let spring = ReportDay::parse(Some("29"), Some("3"), Some("2026"), &paris(), now());
        assert_eq!(spring.unwrap().hours(), 23);
        let autumn = ReportDay::parse(Some("25"), Some("10"), Some("2026"), &paris(), now());
        assert_eq!(autumn.unwrap().hours(), 25);
        let plain = ReportDay::parse(Some("1"), Some("6"), Some("2026"), &paris(), now());
        assert_eq!(plain.unwrap().hours(), 24);
    }

    #[test]
    fn defaults_to_yesterday_and_refuses_31_february() {
        let d = ReportDay::parse(None, None, None, &paris(), now()).unwrap();
        assert_eq!(d.iso(), "2026-03-29");
        let e = ReportDay::parse(Some("31"), Some("2"), Some("2026"), &paris(), now());
        assert_eq!(e.unwrap_err().field, "d");
        let e = ReportDay::parse(Some("1"), Some("13"), None, &paris(), now());
        assert_eq!(e.unwrap_err().field, "m");
        let e = ReportDay::parse(Some("x"), None, None, &paris(), now());
        assert_eq!(e.unwrap_err().field, "d");
    }
}
