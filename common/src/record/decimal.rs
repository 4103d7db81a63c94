//! Connect's Decimal value: an unscaled big integer (two's-complement,
//! big-endian, minimal bytes, as Java's `BigInteger.toByteArray`) and a scale.
//! PostgreSQL numerics can exceed `i128`, so the bytes are the truth; `i128`
//! is a fast path.

use std::fmt;

/// A decimal number `unscaled * 10^-scale`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    unscaled: Vec<u8>,
    scale: i32,
}

impl Decimal {
    /// From unscaled two's-complement big-endian bytes (any length; empty is 0).
    pub fn from_bytes(bytes: &[u8], scale: i32) -> Self {
        let mut unscaled = bytes.to_vec();
        if unscaled.is_empty() {
            unscaled.push(0);
        }
        minimize(&mut unscaled);
        Self { unscaled, scale }
    }

    /// From an unscaled integer.
    pub fn from_i128(unscaled: i128, scale: i32) -> Self {
        Self::from_bytes(&unscaled.to_be_bytes(), scale)
    }

    /// The unscaled value's bytes, as `BigInteger.toByteArray` gives them.
    pub fn unscaled_bytes(&self) -> &[u8] {
        &self.unscaled
    }

    /// The scale.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// The unscaled value, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        if self.unscaled.len() > 16 {
            return None;
        }
        let fill = if self.unscaled[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[16 - self.unscaled.len()..].copy_from_slice(&self.unscaled);
        Some(i128::from_be_bytes(buf))
    }

    /// The same number with a larger scale (`None` if `scale` is smaller:
    /// that could lose digits).
    pub fn rescale(&self, scale: i32) -> Option<Self> {
        let up = u32::try_from(i64::from(scale) - i64::from(self.scale)).ok()?;
        if up == 0 {
            return Some(self.clone());
        }
        let (neg, mut mag) = magnitude(&self.unscaled);
        for _ in 0..up {
            mul_add(&mut mag, 10, 0);
        }
        Some(Self { unscaled: from_magnitude(neg, &mag), scale })
    }

    /// Parses a JSON / Java number (`-12.50`, `1E+3`, `2e-5`), keeping its
    /// scale as Java's `BigDecimal(String)` does.
    pub fn parse(text: &str) -> Option<Self> {
        let (neg, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut mag = vec![0u32];
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            mul_add(&mut mag, 10, u32::from(b - b'0'));
        }
        let scale = i32::try_from(frac.len() as i64 - exp).ok()?;
        Some(Self { unscaled: from_magnitude(neg, &mag), scale })
    }

    /// Java's `BigDecimal.toPlainString`: never an exponent.
    pub fn to_plain_string(&self) -> String {
        let (neg, digits) = self.sign_and_digits();
        let mut out = String::with_capacity(digits.len() + 4);
        if neg {
            out.push('-');
        }
        if self.scale <= 0 {
            out.push_str(&digits);
            if digits != "0" {
                out.extend(std::iter::repeat_n('0', self.scale.unsigned_abs() as usize));
            }
        } else {
            let scale = self.scale as usize;
            if digits.len() > scale {
                let (i, f) = digits.split_at(digits.len() - scale);
                out.push_str(i);
                out.push('.');
                out.push_str(f);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', scale - digits.len()));
                out.push_str(&digits);
            }
        }
        out
    }

    fn sign_and_digits(&self) -> (bool, String) {
        if let Some(v) = self.to_i128() {
            return (v < 0, v.unsigned_abs().to_string());
        }
        let (neg, mag) = magnitude(&self.unscaled);
        (neg, to_decimal_digits(mag))
    }
}

/// Java's `BigDecimal.toString`: plain unless the scale is negative or the
/// number is below 1e-6, then scientific (`1.23E+5`, `1E-7`).
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (neg, digits) = self.sign_and_digits();
        let adjusted = -i64::from(self.scale) + (digits.len() as i64 - 1);
        if self.scale >= 0 && adjusted >= -6 {
            return f.write_str(&self.to_plain_string());
        }
        if neg {
            f.write_str("-")?;
        }
        f.write_str(&digits[..1])?;
        if digits.len() > 1 {
            write!(f, ".{}", &digits[1..])?;
        }
        if adjusted != 0 {
            write!(f, "E{}{adjusted}", if adjusted > 0 { "+" } else { "" })?;
        }
        Ok(())
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

/// Drops redundant sign bytes (keeps at least one byte).
fn minimize(bytes: &mut Vec<u8>) {
    let neg = bytes[0] & 0x80 != 0;
    let pad = if neg { 0xff } else { 0 };
    let keep_from =
        bytes.windows(2).position(|w| !(w[0] == pad && (w[1] & 0x80 != 0) == neg)).unwrap_or(bytes.len() - 1);
    bytes.drain(..keep_from);
}

/// Sign and magnitude (little-endian u32 limbs) of two's-complement bytes.
fn magnitude(bytes: &[u8]) -> (bool, Vec<u32>) {
    let neg = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut be: Vec<u8> = bytes.to_vec();
    if neg {
        // Two's-complement negation: invert, add one.
        let mut carry = true;
        for b in be.iter_mut().rev() {
            *b = !*b;
            if carry {
                let (s, c) = b.overflowing_add(1);
                *b = s;
                carry = c;
            }
        }
    }
    let mut limbs = Vec::with_capacity(be.len() / 4 + 1);
    for chunk in be.rchunks(4) {
        let mut limb = 0u32;
        for &b in chunk {
            limb = (limb << 8) | u32::from(b);
        }
        limbs.push(limb);
    }
    (neg, limbs)
}

/// Minimal two's-complement bytes of a signed magnitude.
fn from_magnitude(neg: bool, limbs: &[u32]) -> Vec<u8> {
    let mut be: Vec<u8> = Vec::with_capacity(limbs.len() * 4 + 1);
    be.push(0);
    for limb in limbs.iter().rev() {
        be.extend_from_slice(&limb.to_be_bytes());
    }
    if neg {
        let mut carry = true;
        for b in be.iter_mut().rev() {
            *b = !*b;
            if carry {
                let (s, c) = b.overflowing_add(1);
                *b = s;
                carry = c;
            }
        }
    }
    minimize(&mut be);
    be
}

/// `limbs = limbs * mul + add`.
fn mul_add(limbs: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in limbs.iter_mut() {
        let v = u64::from(*limb) * u64::from(mul) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        limbs.push(carry as u32);
    }
}

fn to_decimal_digits(mut limbs: Vec<u32>) -> String {
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
    }
    let Some((last, rest)) = chunks.split_last() else { return "0".into() };
    let mut out = last.to_string();
    for c in rest.iter().rev() {
        out.push_str(&format!("{c:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_minimal_twos_complement_like_java() {
        // BigInteger.valueOf(x).toByteArray()
        assert_eq!(Decimal::from_i128(0, 0).unscaled_bytes(), [0x00]);
        assert_eq!(Decimal::from_i128(127, 0).unscaled_bytes(), [0x7f]);
        assert_eq!(Decimal::from_i128(128, 0).unscaled_bytes(), [0x00, 0x80]);
        assert_eq!(Decimal::from_i128(-1, 0).unscaled_bytes(), [0xff]);
        assert_eq!(Decimal::from_i128(-128, 0).unscaled_bytes(), [0x80]);
        assert_eq!(Decimal::from_i128(-129, 0).unscaled_bytes(), [0xff, 0x7f]);
        assert_eq!(Decimal::from_i128(156, 2).unscaled_bytes(), [0x00, 0x9c]);
        assert_eq!(Decimal::from_bytes(&[0, 0, 0x9c], 2), Decimal::from_i128(156, 2));
    }

    #[test]
    fn strings_match_java_big_decimal() {
        let s = |v: i128, scale| Decimal::from_i128(v, scale).to_string();
        assert_eq!(s(156, 2), "1.56");
        assert_eq!(s(-156, 2), "-1.56");
        assert_eq!(s(5, 3), "0.005");
        assert_eq!(s(0, 2), "0.00");
        assert_eq!(s(123, 0), "123");
        assert_eq!(s(123, -2), "1.23E+4");
        assert_eq!(s(1, 7), "1E-7");
        assert_eq!(s(12, 8), "1.2E-7");
        assert_eq!(s(1, 6), "0.000001");
        assert_eq!(Decimal::from_i128(123, -2).to_plain_string(), "12300");
    }

    #[test]
    fn parse_keeps_scale_and_round_trips() {
        assert_eq!(Decimal::parse("1.56"), Some(Decimal::from_i128(156, 2)));
        assert_eq!(Decimal::parse("-0.50"), Some(Decimal::from_i128(-50, 2)));
        assert_eq!(Decimal::parse("1E+3"), Some(Decimal::from_i128(1, -3)));
        assert_eq!(Decimal::parse("2e-5"), Some(Decimal::from_i128(2, 5)));
        assert_eq!(Decimal::parse("1.2.3"), None);
        assert_eq!(Decimal::parse("-"), None);
        let big = "-123456789012345678901234567890123456789012345678901234567890.123456789";
        let d = Decimal::parse(big).unwrap();
        assert_eq!(d.to_i128(), None);
        assert_eq!(d.to_string(), big);
        assert_eq!(Decimal::from_bytes(d.unscaled_bytes(), d.scale()), d);
        assert_eq!(Decimal::from_i128(i128::MIN, 0).to_string(), i128::MIN.to_string());
        assert_eq!(Decimal::parse(&i128::MAX.to_string()).unwrap().to_i128(), Some(i128::MAX));
    }

    #[test]
    fn rescale_only_grows() {
        let d = Decimal::from_i128(-15, 1);
        assert_eq!(d.rescale(3), Some(Decimal::from_i128(-1500, 3)));
        assert_eq!(d.rescale(0), None);
    }
}
