//! The common subset of Java's `SimpleDateFormat` in UTC, as
//! TimestampConverter uses it: `y M d D E H k K h m s S a Z X z` and quoted
//! literals. Parsing is lenient as Java's (month 13 is January next year).
//! Other pattern letters are refused when the pattern is compiled.

use super::java_text::civil_from_days;

const MILLIS_PER_DAY: i64 = 86_400_000;
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
    /// A pattern letter repeated `count` times.
    Field(char, usize),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct DateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

impl DateFormat {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                let mut text = String::new();
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    text.push('\'');
                } else {
                    loop {
                        match chars.next() {
                            Some('\'') if chars.peek() == Some(&'\'') => {
                                chars.next();
                                text.push('\'');
                            }
                            Some('\'') => break,
                            Some(c) => text.push(c),
                            None => return Err(format!("unterminated quote in format '{pattern}'")),
                        }
                    }
                }
                tokens.push(Token::Literal(text));
            } else if c.is_ascii_alphabetic() {
                if !"yMdDEHkKhmsSaZXz".contains(c) {
                    return Err(format!("pattern letter '{c}' in format '{pattern}' is not supported"));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                tokens.push(Token::Field(c, count));
            } else {
                tokens.push(Token::Literal(c.to_string()));
            }
        }
        Ok(Self { pattern: pattern.to_owned(), tokens })
    }

    /// Formats milliseconds since the epoch in UTC.
    pub(crate) fn format(&self, ms: i64) -> String {
        let days = ms.div_euclid(MILLIS_PER_DAY);
        let of_day = ms.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let hour = of_day / 3_600_000;
        let num = |v: i64, n: usize| format!("{v:0n$}");
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field(c, n) => out.push_str(&match (*c, *n) {
                    ('y', 2) => num(year.rem_euclid(100), 2),
                    ('y', n) => num(year, n),
                    ('M', n) if n >= 4 => MONTHS[month as usize - 1].to_owned(),
                    ('M', 3) => MONTHS[month as usize - 1][..3].to_owned(),
                    ('M', n) => num(i64::from(month), n),
                    ('d', n) => num(i64::from(day), n),
                    ('D', n) => num(days - days_from_civil(year, 1, 1) + 1, n),
                    ('E', n) => {
                        let name = DAYS[(days + 3).rem_euclid(7) as usize];
                        if n >= 4 { name.to_owned() } else { name[..3].to_owned() }
                    }
                    ('H', n) => num(hour, n),
                    ('k', n) => num(if hour == 0 { 24 } else { hour }, n),
                    ('K', n) => num(hour % 12, n),
                    ('h', n) => num(if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                    ('m', n) => num(of_day / 60_000 % 60, n),
                    ('s', n) => num(of_day / 1000 % 60, n),
                    ('S', n) => num(of_day % 1000, n),
                    ('a', _) => if hour < 12 { "AM" } else { "PM" }.to_owned(),
                    ('Z', _) => "+0000".to_owned(),
                    ('X', _) => "Z".to_owned(),
                    ('z', n) => if n >= 4 { "Coordinated Universal Time" } else { "UTC" }.to_owned(),
                    // Only the letters accepted by `new` reach here.
                    _ => String::new(),
                }),
            }
        }
        out
    }

    /// Parses text into milliseconds since the epoch (UTC unless the text
    /// carries an offset).
    pub(crate) fn parse(&self, text: &str) -> Result<i64, String> {
        let bad =
            || format!("Could not parse timestamp: value ({text}) does not match pattern ({})", self.pattern);
        let (mut year, mut month, mut day, mut day_of_year) = (1970i64, 1i64, 1i64, None);
        let (mut hour, mut minute, mut second, mut milli, mut pm, mut offset) = (0i64, 0, 0, 0, None, 0i64);
        let mut rest = text;
        for (i, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(lit) => rest = rest.strip_prefix(lit.as_str()).ok_or_else(bad)?,
                Token::Field(c, n) => {
                    // Adjacent numeric fields take exactly their width, as Java's.
                    let fixed = matches!(self.tokens.get(i + 1), Some(Token::Field(next, count))
                        if !("EaZXz".contains(*next) || *next == 'M' && *count >= 3));
                    let number = |rest: &mut &str| -> Result<i64, String> {
                        let (sign, body) = match rest.strip_prefix('-') {
                            Some(b) => (-1, b),
                            None => (1, *rest),
                        };
                        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
                        let take = if fixed { digits.min(*n) } else { digits };
                        if take == 0 {
                            return Err(bad());
                        }
                        let v: i64 = body[..take].parse().map_err(|_| bad())?;
                        *rest = &body[take..];
                        Ok(sign * v)
                    };
                    match c {
                        'y' => {
                            let before = rest.len();
                            year = number(&mut rest)?;
                            if *n <= 2 && before - rest.len() == 2 {
                                year = two_digit_year(year);
                            }
                        }
                        'M' if *n >= 3 => month = name_index(&mut rest, &MONTHS).ok_or_else(bad)? as i64 + 1,
                        'M' => month = number(&mut rest)?,
                        'd' => day = number(&mut rest)?,
                        'D' => day_of_year = Some(number(&mut rest)?),
                        'E' => {
                            name_index(&mut rest, &DAYS).ok_or_else(bad)?;
                        }
                        'H' | 'K' => hour = number(&mut rest)?,
                        'k' => hour = number(&mut rest)? % 24,
                        'h' => hour = number(&mut rest)? % 12,
                        'm' => minute = number(&mut rest)?,
                        's' => second = number(&mut rest)?,
                        'S' => milli = number(&mut rest)?,
                        'a' => pm = Some(name_index(&mut rest, &["AM", "PM"]).ok_or_else(bad)? == 1),
                        _ => offset = parse_offset(&mut rest).ok_or_else(bad)?,
                    }
                }
            }
        }
        // Java ignores text after the pattern but fails when nothing was read.
        if rest.len() == text.len() {
            return Err(bad());
        }
        if pm == Some(true) {
            hour += 12;
        }
        let days = match day_of_year {
            Some(d) => days_from_civil(year, 1, 1) + d - 1,
            None => {
                let (y, m) = (year + (month - 1).div_euclid(12), (month - 1).rem_euclid(12) + 1);
                days_from_civil(y, m as u32, 1) + day - 1
            }
        };
        let ms = days * MILLIS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli;
        Ok(ms - offset)
    }
}

/// A case-insensitive full or three-letter name at the start of `rest`.
fn name_index(rest: &mut &str, names: &[&str]) -> Option<usize> {
    let lower = rest.to_ascii_lowercase();
    for short in [false, true] {
        for (i, name) in names.iter().enumerate() {
            let name = if short { &name[..3.min(name.len())] } else { name };
            if lower.starts_with(&name.to_ascii_lowercase()) {
                *rest = &rest[name.len()..];
                return Some(i);
            }
        }
    }
    None
}

/// `Z`, `UTC`, `GMT`, `+hh`, `+hhmm` or `+hh:mm`, as milliseconds east of UTC.
fn parse_offset(rest: &mut &str) -> Option<i64> {
    for utc in ["Z", "UTC", "GMT"] {
        if let Some(r) = rest.strip_prefix(utc) {
            *rest = r;
            return Some(0);
        }
    }
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &rest[1..];
    let digits: String = body.chars().take(5).filter(char::is_ascii_digit).collect();
    let used = match body.as_bytes() {
        [_, _, b':', _, _, ..] => 5,
        [a, b, c, d, ..] if [a, b, c, d].iter().all(|x| x.is_ascii_digit()) => 4,
        _ => 2,
    };
    let (h, m) = match used {
        2 => (digits.get(..2)?.parse::<i64>().ok()?, 0),
        _ => (digits.get(..2)?.parse().ok()?, digits.get(2..4)?.parse().ok()?),
    };
    *rest = &body[used..];
    Some(sign * (h * 3_600_000 + m * 60_000))
}

/// Java's window for two-digit years: 80 years back to 20 ahead of now.
fn two_digit_year(yy: i64) -> i64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let this_year = civil_from_days(now_ms.div_euclid(MILLIS_PER_DAY)).0;
    let start = this_year - 80;
    let candidate = start - start.rem_euclid(100) + yy;
    if candidate < start { candidate + 100 } else { candidate }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: i64 = 1_139_996_730_123; // 2006-02-15T09:45:30.123Z, a Wednesday

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        let f = |p: &str| DateFormat::new(p).unwrap().format(TS);
        assert_eq!(f("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), "2006-02-15T09:45:30.123Z");
        assert_eq!(f("yy/M/d h:mm a"), "06/2/15 9:45 AM");
        assert_eq!(f("EEE, d MMM yyyy HH:mm:ss Z"), "Wed, 15 Feb 2006 09:45:30 +0000");
        assert_eq!(f("EEEE MMMM D ''X''"), "Wednesday February 46 'Z'");
        assert!(DateFormat::new("yyyy-ww").unwrap_err().contains("'w'"));
        assert!(DateFormat::new("'open").is_err());
    }

    #[test]
    fn parses_back_and_leniently() {
        let p = |pattern: &str, text: &str| DateFormat::new(pattern).unwrap().parse(text);
        assert_eq!(p("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "2006-02-15T09:45:30.123Z"), Ok(TS));
        assert_eq!(p("yyyyMMddHHmmssSSS", "20060215094530123"), Ok(TS));
        assert_eq!(p("dd MMM yyyy hh:mm:ss.SSS a", "15 feb 2006 09:45:30.123 AM"), Ok(TS));
        assert_eq!(p("yyyy-MM-dd HH:mm:ss.SSSX", "2006-02-15 11:45:30.123+02:00"), Ok(TS));
        assert_eq!(p("yyyy-MM-dd", "2005-14-15"), p("yyyy-MM-dd", "2006-02-15"));
        assert!(p("yyyy-MM-dd", "2006/02/15").unwrap_err().contains("does not match pattern (yyyy-MM-dd)"));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2006, 2, 15), TS.div_euclid(MILLIS_PER_DAY));
    }
}
