//! Joda-Time's `DateTimeFormat` patterns, which `path.format` is written
//! in: letters are fields (`YYYY`, `MM`, `dd`, `HH`...), text in single
//! quotes is literal (`''` is a quote), anything else is copied.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::zone::Zone;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    Field { letter: char, count: usize },
}

/// A parsed `path.format`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PathFormat {
    tokens: Vec<Token>,
}

/// Whether the letter's output is text, which needs the locale's names.
fn is_text(letter: char, count: usize) -> bool {
    matches!(letter, 'G' | 'E' | 'a' | 'z' | 'Z') || (letter == 'M' && count >= 3)
}

impl PathFormat {
    /// Parses `pattern`; `english` says whether the locale is English (the
    /// only names Hydrate knows), which text fields need.
    pub(super) fn parse(pattern: &str, english: bool) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                // Quoted text runs to the next lone quote; '' inside is a quote.
                loop {
                    match chars.next() {
                        None => return Err(format!("path.format: unterminated quote in {pattern}")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => literal.push(c),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if !"GCYyxwEeDMdaKhHkmsSzZ".contains(c) {
                    return Err(format!(
                        "path.format: illegal pattern component: {}",
                        c.to_string().repeat(count)
                    ));
                }
                if c == 'z' && count >= 4 {
                    return Err("path.format: long time zone names (zzzz) are not supported".into());
                }
                if is_text(c, count) && !english && c != 'Z' {
                    return Err(format!(
                        "locale: Hydrate names months, days and eras in English only; {} needs another locale",
                        c.to_string().repeat(count)
                    ));
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field { letter: c, count });
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self { tokens })
    }

    /// Writes instant `utc_ms`, whose reading in `zone` is `t`.
    pub(super) fn format(&self, t: &NaiveDateTime, utc_ms: i64, zone: &Zone, out: &mut String) {
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field { letter, count } => field(*letter, *count, t, utc_ms, zone, out),
            }
        }
    }
}

/// A number with at least `digits` digits, sign first.
fn number(value: i64, digits: usize, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    // Writing into a String cannot fail.
    let _ = write!(out, "{:0digits$}", value.unsigned_abs());
}

fn field(letter: char, count: usize, t: &NaiveDateTime, utc_ms: i64, zone: &Zone, out: &mut String) {
    let year = i64::from(t.year());
    let year_of_era = if year <= 0 { 1 - year } else { year };
    let hour = i64::from(t.hour());
    match letter {
        'G' => out.push_str(if year <= 0 { "BC" } else { "AD" }),
        'C' => number(year_of_era / 100, count, out),
        // Joda prints two-digit years for a count of 2, all digits otherwise.
        'Y' | 'y' | 'x' => {
            let y = match letter {
                'Y' => year_of_era,
                'y' => year,
                _ => i64::from(t.iso_week().year()),
            };
            if count == 2 { number(y.rem_euclid(100), 2, out) } else { number(y, count, out) }
        }
        'w' => number(i64::from(t.iso_week().week()), count, out),
        'e' => number(i64::from(t.weekday().number_from_monday()), count, out),
        'E' => {
            let name = DAYS[t.weekday().num_days_from_monday() as usize];
            out.push_str(if count >= 4 { name } else { &name[..3] });
        }
        'D' => number(i64::from(t.ordinal()), count, out),
        'M' if count >= 3 => {
            let name = MONTHS[t.month0() as usize];
            out.push_str(if count >= 4 { name } else { &name[..3] });
        }
        'M' => number(i64::from(t.month()), count, out),
        'd' => number(i64::from(t.day()), count, out),
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'K' => number(hour % 12, count, out),
        'h' => number(if hour % 12 == 0 { 12 } else { hour % 12 }, count, out),
        'H' => number(hour, count, out),
        'k' => number(if hour == 0 { 24 } else { hour }, count, out),
        'm' => number(i64::from(t.minute()), count, out),
        's' => number(i64::from(t.second()), count, out),
        'S' => {
            // Fraction of a second, truncated (or zero-padded) to `count` digits.
            let millis = format!("{:03}", t.and_utc().timestamp_subsec_millis());
            let digits: String = millis.chars().chain(std::iter::repeat('0')).take(count).collect();
            out.push_str(&digits);
        }
        'z' => out.push_str(&zone.abbreviation(utc_ms).unwrap_or_default()),
        'Z' => {
            let offset = zone.offset_ms(utc_ms).unwrap_or(0) / 60_000;
            if count >= 3 {
                out.push_str(&zone.id());
            } else {
                let sep = if count == 2 { ":" } else { "" };
                let sign = if offset < 0 { '-' } else { '+' };
                let _ = write!(out, "{sign}{:02}{sep}{:02}", offset.abs() / 60, offset.abs() % 60);
            }
        }
        // parse() admits no other letters.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn render(pattern: &str, rfc3339: &str, zone: &str) -> String {
        let zone = Zone::parse(zone).unwrap();
        let utc_ms = DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis();
        let t = zone.local_fields(utc_ms).unwrap();
        let mut out = String::new();
        PathFormat::parse(pattern, true).unwrap().format(&t, utc_ms, &zone, &mut out);
        out
    }

    #[test]
    fn confluent_presets_and_common_letters() {
        let at = "2026-03-05T07:08:09.123Z";
        assert_eq!(
            render("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", at, "UTC"),
            "year=2026/month=03/day=05/hour=07"
        );
        assert_eq!(render("yyyy-MM-dd/HH:mm:ss.SSS", at, "UTC"), "2026-03-05/07:08:09.123");
        assert_eq!(render("yy/M/d/H/m/s/S", at, "UTC"), "26/3/5/7/8/9/1");
        assert_eq!(render("'dt'=yyyyMMdd/'it''s' h a", at, "UTC"), "dt=20260305/it's 7 AM");
        assert_eq!(render("MMM MMMM EEE EEEE D w e", at, "UTC"), "Mar March Thu Thursday 64 10 4");
        assert_eq!(render("HH z Z ZZ ZZZ", at, "America/New_York"), "02 EST -0500 -05:00 America/New_York");
        assert_eq!(render("k K", "2026-03-05T00:30:00Z", "UTC"), "24 0");
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        assert!(PathFormat::parse("YYYY/'month", true).unwrap_err().contains("unterminated"));
        assert!(PathFormat::parse("YYYY/qq", true).unwrap_err().contains("qq"));
        assert!(PathFormat::parse("MMM", false).unwrap_err().starts_with("locale"));
        assert!(PathFormat::parse("YYYY/MM", false).is_ok(), "numbers need no names");
    }
}
