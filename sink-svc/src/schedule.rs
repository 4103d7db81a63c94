//! `rotate.schedule.interval.ms`: wall-clock rotation times, aligned to the
//! start of the day in `timezone` as Confluent's sink aligns them.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

const DAY_MS: i64 = 86_400_000;

/// The rotation schedule of a connector.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    interval_ms: i64,
    zone: Tz,
}

impl Schedule {
    /// A schedule every `interval_ms` in `timezone` (an IANA name or UTC).
    pub fn new(interval_ms: i64, timezone: Option<&str>) -> Result<Schedule, String> {
        let zone = match timezone {
            None | Some("") => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!("timezone: `{name}` is not a time zone name such as UTC or Europe/Paris")
            })?,
        };
        Ok(Schedule { interval_ms: interval_ms.max(1), zone })
    }

    /// The first rotation time strictly after `now_ms`: the next multiple of
    /// the interval counted from the local day's start.
    pub fn next_after(&self, now_ms: i64) -> i64 {
        let offset_ms = match chrono::DateTime::from_timestamp_millis(now_ms) {
            Some(at) => {
                i64::from(self.zone.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()) * 1000
            }
            None => 0,
        };
        let local = now_ms + offset_ms;
        let day_start = local.div_euclid(DAY_MS) * DAY_MS;
        let elapsed = local - day_start;
        let next = (day_start + (elapsed / self.interval_ms + 1) * self.interval_ms).min(day_start + DAY_MS);
        next - offset_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_align_to_the_local_day() {
        let utc = Schedule::new(60_000, Some("UTC")).unwrap();
        assert_eq!(utc.next_after(1_139_996_730_000), 1_139_996_760_000);
        assert_eq!(utc.next_after(1_139_996_760_000), 1_139_996_820_000, "strictly after");
        // 7 h does not divide a day: the last slot ends at midnight.
        let odd = Schedule::new(7 * 3_600_000, Some("UTC")).unwrap();
        assert_eq!(odd.next_after(22 * 3_600_000), DAY_MS);
        // Kolkata is UTC+5:30: hourly boundaries fall on the half hour in UTC.
        let kolkata = Schedule::new(3_600_000, Some("Asia/Kolkata")).unwrap();
        assert_eq!(kolkata.next_after(0), 1_800_000);
        assert!(Schedule::new(1000, Some("Mars/Olympus")).is_err());
    }
}
