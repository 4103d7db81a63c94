//! A partitioner's time zone, with Joda-Time's conversions between UTC and
//! local milliseconds, which Confluent's `TimeBasedPartitioner.getPartition`
//! floors in: the same instants land in the same buckets, DST included.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A named zone (tz database) or a fixed offset (`+05:30`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// Parses `timezone` as Joda's `DateTimeZone.forID` would.
    pub(super) fn parse(id: &str) -> Result<Self, String> {
        if id == "Z" {
            return Ok(Self::Named(Tz::UTC));
        }
        if let Ok(offset) = FixedOffset::from_str(id) {
            return Ok(Self::Fixed(offset));
        }
        Tz::from_str(id).map(Self::Named).map_err(|_| format!("timezone: unknown time zone {id}"))
    }

    /// The zone's offset from UTC (ms) at instant `utc_ms`.
    pub(super) fn offset_ms(&self, utc_ms: i64) -> Option<i64> {
        let seconds = match self {
            Self::Fixed(offset) => offset.local_minus_utc(),
            Self::Named(tz) => {
                let utc = DateTime::from_timestamp_millis(utc_ms)?.naive_utc();
                tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
            }
        };
        Some(i64::from(seconds) * 1000)
    }

    /// Joda's `convertUTCToLocal`.
    pub(super) fn utc_to_local(&self, utc_ms: i64) -> Option<i64> {
        utc_ms.checked_add(self.offset_ms(utc_ms)?)
    }

    /// Joda's `convertLocalToUTC(local, strict = false)`: in an overlap the
    /// offset found first wins; in a DST gap west of Greenwich the offset
    /// before the gap is used (east of it Joda's estimate already is).
    pub(super) fn local_to_utc(&self, local_ms: i64) -> Option<i64> {
        let offset_local = self.offset_ms(local_ms)?;
        let mut offset = self.offset_ms(local_ms.checked_sub(offset_local)?)?;
        if offset_local != offset && offset_local < 0 && self.in_gap(local_ms)? {
            offset = offset_local;
        }
        local_ms.checked_sub(offset)
    }

    /// Whether local time `local_ms` does not exist (skipped by DST).
    fn in_gap(&self, local_ms: i64) -> Option<bool> {
        Some(match self {
            Self::Fixed(_) => false,
            Self::Named(tz) => {
                let local = DateTime::from_timestamp_millis(local_ms)?.naive_utc();
                matches!(tz.from_local_datetime(&local), LocalResult::None)
            }
        })
    }

    /// The calendar reading of instant `utc_ms` in this zone.
    pub(super) fn local_fields(&self, utc_ms: i64) -> Option<NaiveDateTime> {
        Some(DateTime::from_timestamp_millis(self.utc_to_local(utc_ms)?)?.naive_utc())
    }

    /// The zone's abbreviation at `utc_ms` (`EST`, `CET`), or its offset.
    pub(super) fn abbreviation(&self, utc_ms: i64) -> Option<String> {
        use chrono_tz::OffsetName as _;
        match self {
            Self::Fixed(offset) => Some(offset.to_string()),
            Self::Named(tz) => {
                let utc = DateTime::from_timestamp_millis(utc_ms)?.naive_utc();
                let offset = tz.offset_from_utc_datetime(&utc);
                Some(offset.abbreviation().map_or_else(|| offset.fix().to_string(), str::to_owned))
            }
        }
    }

    /// The zone's id, as configured.
    pub(super) fn id(&self) -> String {
        match self {
            Self::Fixed(offset) => offset.to_string(),
            Self::Named(tz) => tz.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
    }

    #[test]
    fn ids_parse_like_joda() {
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::Named(Tz::UTC));
        assert_eq!(Zone::parse("Z").unwrap(), Zone::Named(Tz::UTC));
        assert_eq!(Zone::parse("+05:30").unwrap().offset_ms(0), Some(19_800_000));
        assert_eq!(
            Zone::parse("America/New_York").unwrap().offset_ms(ms("2026-07-01T00:00:00Z")),
            Some(-14_400_000)
        );
        assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("Mars/Olympus"));
    }

    #[test]
    fn local_to_utc_follows_joda_in_gaps_and_overlaps() {
        let ny = Zone::parse("America/New_York").unwrap();
        // 01:00 on 2026-11-01 happens twice in New York; Joda picks EDT.
        let local = ms("2026-11-01T01:00:00Z");
        assert_eq!(ny.local_to_utc(local), Some(ms("2026-11-01T05:00:00Z")));
        // 2018-11-04 00:00 does not exist in São Paulo: the offset before the gap.
        let sp = Zone::parse("America/Sao_Paulo").unwrap();
        assert_eq!(sp.local_to_utc(ms("2018-11-04T00:00:00Z")), Some(ms("2018-11-04T03:00:00Z")));
        // East of Greenwich Joda keeps its estimate: Paris 02:00 on 2026-03-29 -> 01:00Z.
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(paris.local_to_utc(ms("2026-03-29T02:00:00Z")), Some(ms("2026-03-29T01:00:00Z")));
        assert_eq!(paris.abbreviation(ms("2026-01-01T00:00:00Z")).as_deref(), Some("CET"));
    }
}
