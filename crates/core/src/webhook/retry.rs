//! When a failed delivery is tried again: about 10 s, 1 min, 5 min, 30 min, 2 h, 6 h,
//! 12 h and 24 h after the attempts before, with jitter; then the event has failed.

use std::time::Duration;

/// The waits after each failed attempt (8 retries over about two days).
pub const SCHEDULE: [Duration; 8] = [
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The wait before the next attempt after `failed` failed attempts (1 after the first),
/// or `None` when the schedule is spent and the event has failed for good. `unit` is a
/// random draw in [0, 1): the wait is the schedule's ±20 %, so that receivers coming back
/// from an outage are not hit by every retry in the same second.
pub fn next_delay(schedule: &[Duration], failed: u32, unit: f64) -> Option<Duration> {
    let index = usize::try_from(failed.checked_sub(1)?).ok()?;
    let base = schedule.get(index)?;
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    Some(base.mul_f64(0.8 + 0.4 * unit))
}

/// Reads a schedule written as waits in milliseconds separated by commas (`100,200,400`),
/// the test setting that shortens it.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, &'static str> {
    const EXPECTED: &str = "waits in milliseconds separated by commas, such as 100,200,400";
    let waits = text
        .split(',')
        .map(|p| p.trim().parse::<u64>().map(Duration::from_millis))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| EXPECTED)?;
    if waits.is_empty() || waits.len() > 32 {
        return Err(EXPECTED);
    }
    Ok(waits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn follows_the_schedule_then_gives_up() {
        assert_eq!(next_delay(&SCHEDULE, 0, 0.5), None);
        assert_eq!(next_delay(&SCHEDULE, 1, 0.5), Some(Duration::from_secs(10)));
        assert_eq!(
            next_delay(&SCHEDULE, 8, 0.5),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(next_delay(&SCHEDULE, 9, 0.5), None);
        let total: Duration = SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(44 * 3600) && total < Duration::from_secs(49 * 3600));
        assert_eq!(
            parse_schedule("100, 200"),
            Ok(vec![Duration::from_millis(100), Duration::from_millis(200)])
        );
        assert!(parse_schedule("1s").is_err());
        assert!(parse_schedule("").is_err());
    }

    proptest! {
        #[test]
        fn jitter_stays_within_a_fifth(failed in 1u32..=8, unit in proptest::num::f64::ANY) {
            let d = next_delay(&SCHEDULE, failed, unit).unwrap();
            let base = SCHEDULE[failed as usize - 1];
            prop_assert!(d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2));
        }

        #[test]
        fn waits_grow(failed in 1u32..8, a in 0.0f64..1.0, b in 0.0f64..1.0) {
            let now = next_delay(&SCHEDULE, failed, a).unwrap();
            let later = next_delay(&SCHEDULE, failed + 1, b).unwrap();
            prop_assert!(later > now);
        }
    }
}
