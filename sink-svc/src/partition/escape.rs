//! Hive's escaping of partition directory names
//! (`org.apache.hadoop.hive.common.FileUtils.escapePathName`), so a value
//! holding `/` or `=` stays one path segment and Hive-style readers
//! (Athena, Trino, Spark, DuckDB, pyarrow) read the value back unescaped.

/// Hive's name for the directory of an empty value.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Whether Hive escapes `c`: control characters and `"#%'*/:=?\{[]^` and DEL.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'
            ..='\u{1f}'
                | '"'
                | '#'
                | '%'
                | '\''
                | '*'
                | '/'
                | ':'
                | '='
                | '?'
                | '\\'
                | '\u{7f}'
                | '{'
                | '['
                | ']'
                | '^'
    )
}

/// Appends `value` escaped to `out`: escaped characters become `%XX`
/// (uppercase hex), everything else (spaces, non-ASCII) stays as it is; an
/// empty value is Hive's default partition.
pub fn escape_into(value: &str, out: &mut String) {
    if value.is_empty() {
        out.push_str(HIVE_DEFAULT_PARTITION);
        return;
    }
    for c in value.chars() {
        if needs_escape(c) {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            let b = c as u8; // every escaped character is ASCII
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(c);
        }
    }
}

/// `value` escaped, as a new string.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_into(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_escapes_path_characters_only() {
        assert_eq!(escape("United States"), "United States");
        assert_eq!(escape("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(escape("50% off?"), "50%25 off%3F");
        assert_eq!(escape("C:\\tmp\t\"x\"#'*{[]}^\u{7f}"), "C%3A%5Ctmp%09%22x%22%23%27%2A%7B%5B%5D}%5E%7F");
        assert_eq!(escape("Côte d’Ivoire"), "Côte d’Ivoire");
        assert_eq!(escape("a\u{1}b"), "a%01b");
        assert_eq!(escape(""), HIVE_DEFAULT_PARTITION);
        assert_eq!(escape("plain-value_1.2~"), "plain-value_1.2~");
    }
}
