//! PostgreSQL's binary `numeric`: base-10000 digits with a weight, read
//! exactly (never through a float).

/// A finite numeric as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgNumeric {
    negative: bool,
    /// Power of 10000 of the first digit group.
    weight: i16,
    /// Digits after the point that PostgreSQL displays.
    dscale: u16,
    digits: Vec<i16>,
}

impl PgNumeric {
    /// Parses the binary form; NaN and infinities have no Connect value.
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let word = |i: usize| {
            raw.get(i * 2..i * 2 + 2).map(|b| [b[0], b[1]]).ok_or_else(|| "a truncated numeric".to_owned())
        };
        let ndigits = i16::from_be_bytes(word(0)?).max(0) as usize;
        let weight = i16::from_be_bytes(word(1)?);
        let sign = u16::from_be_bytes(word(2)?);
        let dscale = u16::from_be_bytes(word(3)?);
        match sign {
            0x0000 | 0x4000 => {}
            0xC000 => return Err("numeric NaN has no Connect value".into()),
            _ => return Err("numeric Infinity has no Connect value".into()),
        }
        let digits = (0..ndigits).map(|i| word(4 + i).map(i16::from_be_bytes)).collect::<Result<_, _>>()?;
        Ok(Self { negative: sign == 0x4000, weight, dscale, digits })
    }

    /// The unscaled value at `scale` digits after the point (rounded half
    /// up when the value has more); errors past 38 digits.
    pub fn unscaled(&self, scale: i32) -> Result<i128, String> {
        let too_big = || format!("numeric {} has more than 38 digits", self.to_text());
        let mut acc: i128 = 0;
        for d in &self.digits {
            acc = acc.checked_mul(10_000).and_then(|a| a.checked_add(i128::from(*d))).ok_or_else(too_big)?;
        }
        let exponent = 4 * (i32::from(self.weight) - self.digits.len() as i32 + 1) + scale;
        let value = if exponent >= 0 {
            10i128.checked_pow(exponent as u32).and_then(|p| acc.checked_mul(p)).ok_or_else(too_big)?
        } else {
            match 10i128.checked_pow(exponent.unsigned_abs()) {
                Some(p) => {
                    let (q, r) = (acc / p, acc % p);
                    if r * 2 >= p { q + 1 } else { q }
                }
                None => 0,
            }
        };
        Ok(if self.negative { -value } else { value })
    }

    /// The exact decimal text, as PostgreSQL prints it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let digit =
            |i: i32| -> i16 { if i < 0 { 0 } else { self.digits.get(i as usize).copied().unwrap_or(0) } };
        if self.weight < 0 {
            out.push('0');
        } else {
            for i in 0..=i32::from(self.weight) {
                if i == 0 {
                    out.push_str(&digit(i).to_string());
                } else {
                    out.push_str(&format!("{:04}", digit(i)));
                }
            }
        }
        if self.dscale > 0 {
            out.push('.');
            let mut fraction = String::new();
            let mut i = i32::from(self.weight) + 1;
            while fraction.len() < usize::from(self.dscale) {
                fraction.push_str(&format!("{:04}", digit(i)));
                i += 1;
            }
            fraction.truncate(usize::from(self.dscale));
            out.push_str(&fraction);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(weight: i16, negative: bool, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn reads_exact_values() {
        // 12345.678 = 1|2345|6780 with weight 1
        let n = PgNumeric::parse(&raw(1, false, 3, &[1, 2345, 6780])).unwrap();
        assert_eq!(n.to_text(), "12345.678");
        assert_eq!(n.unscaled(3), Ok(12_345_678));
        assert_eq!(n.unscaled(5), Ok(1_234_567_800));
        assert_eq!(n.unscaled(0), Ok(12_346));
        let small = PgNumeric::parse(&raw(-1, true, 4, &[5])).unwrap();
        assert_eq!(small.to_text(), "-0.0005");
        assert_eq!(small.unscaled(4), Ok(-5));
        let zero = PgNumeric::parse(&raw(0, false, 2, &[])).unwrap();
        assert_eq!(zero.to_text(), "0.00");
        let hundred = PgNumeric::parse(&raw(0, false, 0, &[100])).unwrap();
        assert_eq!((hundred.to_text(), hundred.unscaled(2)), ("100".into(), Ok(10_000)));
        let big = PgNumeric::parse(&raw(1, false, 0, &[1, 0])).unwrap();
        assert_eq!(big.to_text(), "10000");
        assert!(
            PgNumeric::parse(
                &raw(0, false, 0, &[])
                    .iter()
                    .enumerate()
                    .map(|(i, b)| if i == 4 { 0xC0 } else { *b })
                    .collect::<Vec<_>>()
            )
            .is_err()
        );
    }
}
