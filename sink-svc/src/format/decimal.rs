//! Connect Decimals as Arrow's Decimal128/256 values of a column's
//! precision and scale; a value that would not fit is refused, never cut.

use std::borrow::Cow;

use arrow::datatypes::{Decimal128Type, Decimal256Type, DecimalType, i256};
use hydrate_common::record::Decimal;

use super::mismatch::Mismatch;

/// `d` at the column's `scale`: itself when it already is (the usual case,
/// and then nothing is allocated), rescaled up otherwise; never rounded.
fn unscaled(d: &Decimal, scale: i8) -> Result<Cow<'_, Decimal>, Mismatch> {
    if d.scale() == i32::from(scale) {
        return Ok(Cow::Borrowed(d));
    }
    d.rescale(i32::from(scale)).map(Cow::Owned).ok_or_else(|| {
        Mismatch::new(format!("Decimal {d} has more than the column's {scale} digits after the point"))
    })
}

pub(super) fn decimal128(d: &Decimal, precision: u8, scale: i8) -> Result<i128, Mismatch> {
    let d = unscaled(d, scale)?;
    d.to_i128()
        .filter(|v| Decimal128Type::is_valid_decimal_precision(*v, precision))
        .ok_or_else(|| Mismatch::new(format!("Decimal {d} has more than {precision} digits")))
}

pub(super) fn decimal256(d: &Decimal, precision: u8, scale: i8) -> Result<i256, Mismatch> {
    let d = unscaled(d, scale)?;
    let bytes = d.unscaled_bytes();
    let too_wide = || Mismatch::new(format!("Decimal {d} has more than {precision} digits"));
    if bytes.len() > 32 {
        return Err(too_wide());
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
    let mut buf = [fill; 32];
    buf[32 - bytes.len()..].copy_from_slice(bytes);
    let v = i256::from_be_bytes(buf);
    if Decimal256Type::is_valid_decimal_precision(v, precision) { Ok(v) } else { Err(too_wide()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rescaled_up_and_checked_against_precision() {
        assert_eq!(decimal128(&Decimal::from_i128(15, 1), 5, 2).unwrap(), 150);
        assert!(
            decimal128(&Decimal::from_i128(155, 2), 5, 1)
                .unwrap_err()
                .to_string()
                .contains("after the point")
        );
        assert!(decimal128(&Decimal::from_i128(100_000, 2), 5, 2).is_err());
        assert_eq!(decimal128(&Decimal::from_i128(-99_999, 2), 5, 2).unwrap(), -99_999);
        let big = Decimal::parse("-1234567890123456789012345678901234567890.5").unwrap();
        assert_eq!(
            decimal256(&big, 45, 1).unwrap(),
            i256::from_string("-12345678901234567890123456789012345678905").unwrap()
        );
        assert!(decimal256(&big, 40, 1).is_err());
    }
}
