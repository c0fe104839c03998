//! Exact decimals in Postgres' binary `numeric` format: base-10000 digit
//! groups, a weight, a sign and a display scale. A value is rescaled to the
//! column's scale only when no non-zero digit is lost: never rounded.

/// A value that cannot be written as requested, in words for the user.
pub type FitError = String;

/// `value × 10^-scale` rescaled to `target_scale` (when the column has one),
/// checked against `precision`. Returns the unscaled integer and its scale.
pub fn fit_decimal(
    value: i128,
    scale: i8,
    precision: Option<u32>,
    target_scale: Option<u32>,
) -> Result<(i128, u32), FitError> {
    let (mut v, mut s) = if scale < 0 {
        let factor = pow10(scale.unsigned_abs() as u32).ok_or("is too large")?;
        (value.checked_mul(factor).ok_or("is too large")?, 0u32)
    } else {
        (value, scale as u32)
    };
    if let Some(ts) = target_scale {
        if ts >= s {
            let factor = pow10(ts - s).ok_or("is too large for the column's scale")?;
            v = v
                .checked_mul(factor)
                .ok_or("is too large for the column's scale")?;
        } else {
            let divisor = pow10(s - ts).ok_or("has too many decimal places")?;
            if v % divisor != 0 {
                return Err(format!(
                    "has more than {ts} decimal places (the column would round it)"
                ));
            }
            v /= divisor;
        }
        s = ts;
    }
    if let Some(p) = precision {
        let digits = digit_count(v.unsigned_abs());
        if digits > p {
            return Err(format!(
                "needs {} integer digits; the column allows {}",
                digits.saturating_sub(s),
                p.saturating_sub(s)
            ));
        }
    }
    Ok((v, s))
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn digit_count(mut v: u128) -> u32 {
    let mut n = 0;
    while v > 0 {
        v /= 10;
        n += 1;
    }
    n
}

/// Appends the binary `numeric` of `value × 10^-scale` (length prefix included).
pub fn write_numeric(value: i128, scale: u32, buf: &mut bytes::BytesMut) {
    use bytes::BufMut;
    let negative = value < 0;
    let abs = value.unsigned_abs();
    let divisor = 10u128.pow(scale.min(38));
    let (mut int_part, mut frac) = (abs / divisor, abs % divisor);
    let mut groups: Vec<i16> = Vec::with_capacity(12);
    // fraction groups, least significant first, padded on the right to 4 digits
    let mut frac_groups = Vec::with_capacity(10);
    let rem = scale % 4;
    if rem != 0 {
        let m = 10u128.pow(rem);
        frac_groups.push(((frac % m) * 10u128.pow(4 - rem)) as i16);
        frac /= m;
    }
    for _ in 0..scale / 4 {
        frac_groups.push((frac % 10_000) as i16);
        frac /= 10_000;
    }
    let mut int_groups = Vec::with_capacity(10);
    while int_part > 0 {
        int_groups.push((int_part % 10_000) as i16);
        int_part /= 10_000;
    }
    let mut weight = int_groups.len() as i16 - 1;
    groups.extend(int_groups.iter().rev());
    groups.extend(frac_groups.iter().rev());
    let lead = groups.iter().take_while(|g| **g == 0).count();
    weight -= lead as i16;
    let trail = groups[lead..].iter().rev().take_while(|g| **g == 0).count();
    let digits = &groups[lead..groups.len() - trail];
    let weight = if digits.is_empty() { 0 } else { weight };
    buf.put_i32(8 + 2 * digits.len() as i32);
    buf.put_i16(digits.len() as i16);
    buf.put_i16(weight);
    buf.put_u16(if negative && !digits.is_empty() {
        0x4000
    } else {
        0
    });
    buf.put_u16(scale as u16);
    for d in digits {
        buf.put_i16(*d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: i128, s: u32) -> Vec<i16> {
        let mut b = bytes::BytesMut::new();
        write_numeric(v, s, &mut b);
        b[4..]
            .chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn encodes_like_postgres() {
        // ndigits, weight, sign, dscale, digits…
        assert_eq!(enc(0, 0), vec![0, 0, 0, 0]);
        // expected bytes taken from Postgres: SELECT numeric_send(12345.6789)
        assert_eq!(enc(123456789, 4), vec![3, 1, 0, 4, 1, 2345, 6789]);
        assert_eq!(enc(1, 4), vec![1, -1, 0, 4, 1]); // 0.0001
        assert_eq!(enc(-1_000_000, 0), vec![1, 1, 0x4000, 0, 100]); // -1000000
        assert_eq!(enc(15, 1), vec![2, 0, 0, 1, 1, 5000]); // 1.5
        assert_eq!(enc(10_000, 0), vec![1, 1, 0, 0, 1]); // 10000
    }

    #[test]
    fn fits_without_rounding() {
        assert_eq!(fit_decimal(12_3400, 4, Some(20), Some(2)), Ok((1234, 2)));
        assert!(fit_decimal(12_3456, 4, Some(20), Some(2))
            .unwrap_err()
            .contains("more than 2 decimal places"));
        assert!(fit_decimal(123_456, 0, Some(5), Some(0)).is_err());
        assert_eq!(fit_decimal(5, -2, None, None), Ok((500, 0)));
        assert_eq!(fit_decimal(7, 0, Some(20), Some(4)), Ok((70000, 4)));
    }
}
