//! Numbers as people read them: byte sizes and thousands separators.

/// `10485760` → `"10,485,760"`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in the units the product page uses (1 MB = 1,048,576 bytes, as the
/// 10 MB limit is): `"532 bytes"`, `"48.2 KB"`, `"10.0 MB"`.
///
/// Rounding never makes a size over a limit look like the limit: a value is shown with
/// one decimal, rounded down.
pub fn format_bytes(n: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    let (unit, name) = match n {
        0..KB => {
            return if n == 1 {
                "1 byte".into()
            } else {
                format!("{n} bytes")
            }
        }
        KB..MB => (KB, "KB"),
        MB..GB => (MB, "MB"),
        _ => (GB, "GB"),
    };
    let tenths = n.saturating_mul(10) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(10_485_760), "10,485,760");
        assert_eq!(group_thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(1023), "1023 bytes");
        assert_eq!(format_bytes(1024), "1.0 KB");
        assert_eq!(format_bytes(49_357), "48.2 KB");
        assert_eq!(format_bytes(10_485_760), "10.0 MB");
        assert_eq!(format_bytes(13_002_341), "12.3 MB");
        assert_eq!(format_bytes(5 * 1024 * 1024 * 1024), "5.0 GB");
    }
}
