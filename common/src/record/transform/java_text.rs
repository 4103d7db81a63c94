//! Java's `toString` of numbers and Connect's `Values.dateFormatFor`, so
//! casts to string read as Kafka writes them.

use crate::record::Decimal;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Java's `Double.toString` (JDK 19+: shortest digits that round-trip).
pub(crate) fn double_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    finite_string(d.abs() < 1e-3 || d.abs() >= 1e7, d.is_sign_negative(), &format!("{:e}", d.abs()))
}

/// Java's `Float.toString`.
pub(crate) fn float_string(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    finite_string(f.abs() < 1e-3 || f.abs() >= 1e7, f.is_sign_negative(), &format!("{:e}", f.abs()))
}

/// From Rust's shortest `{:e}` text (`1.25e-4`) to Java's layout.
fn finite_string(scientific: bool, negative: bool, rust_exp: &str) -> String {
    let (mantissa, exp) = rust_exp.split_once('e').unwrap_or((rust_exp, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if digits == "0" {
        out.push_str("0.0");
    } else if scientific {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push_str(&format!("E{exp}"));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        let padded = format!("{digits:0<int_len$}");
        let (int, frac) = padded.split_at(int_len);
        out.push_str(int);
        out.push('.');
        out.push_str(if frac.is_empty() { "0" } else { frac });
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

/// Java's `BigDecimal.toString`: plain unless the scale is negative or the
/// number is below 1E-6, then scientific (`1.5E-7`, `1E+3`).
pub(crate) fn big_decimal_string(d: &Decimal) -> String {
    let plain = d.to_plain_string();
    let negative = plain.starts_with('-');
    let mut digits: String = plain.chars().filter(char::is_ascii_digit).collect();
    if d.scale() < 0 && digits != "0" {
        digits.truncate(digits.len() - d.scale().unsigned_abs() as usize);
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let adjusted = digits.len() as i64 - 1 - i64::from(d.scale());
    if d.scale() >= 0 && adjusted >= -6 {
        return plain;
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(&format!("E{}{adjusted}", if adjusted > 0 { "+" } else { "" }));
    out
}

/// Connect's `Values.dateFormatFor(date).format(date)` in UTC: a time of
/// day below one day, a date on a midnight, else an ISO timestamp.
pub(crate) fn date_string(ms: i64) -> String {
    let days = ms.div_euclid(MILLIS_PER_DAY);
    let of_day = ms.rem_euclid(MILLIS_PER_DAY);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    );
    if ms < MILLIS_PER_DAY {
        return time;
    }
    let (y, m, d) = civil_from_days(days);
    if of_day == 0 { format!("{y:04}-{m:02}-{d:02}") } else { format!("{y:04}-{m:02}-{d:02}T{time}") }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_floats_read_as_in_java() {
        let cases = [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.0e7, "1.0E7"),
            (1234567.0, "1234567.0"),
            (1.5e-10, "1.5E-10"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (d, text) in cases {
            assert_eq!(double_string(d), text, "{d:?}");
        }
        assert_eq!(float_string(0.1), "0.1");
        assert_eq!(float_string(f32::NAN), "NaN");
        assert_eq!(double_string(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn big_decimals_read_as_in_java() {
        let s = |unscaled: i128, scale: i32| big_decimal_string(&Decimal::from_i128(unscaled, scale));
        assert_eq!(s(1250, 2), "12.50");
        assert_eq!(s(-5, 3), "-0.005");
        assert_eq!(s(1, 7), "1E-7");
        assert_eq!(s(15, 8), "1.5E-7");
        assert_eq!(s(1, -3), "1E+3");
        assert_eq!(s(0, 0), "0");
    }

    #[test]
    fn dates_format_by_value() {
        assert_eq!(date_string(1_139_996_730_000), "2006-02-15T09:45:30.000Z");
        assert_eq!(date_string(19_000 * MILLIS_PER_DAY), "2022-01-08");
        assert_eq!(date_string(3_723_004), "01:02:03.004Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
