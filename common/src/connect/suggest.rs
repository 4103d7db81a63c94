//! "Did you mean" suggestions for mistyped keys and aliases.

/// `"; did you mean `x`?"` for the candidate closest to `word`, or an empty
/// string when none is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    // Allow about one edit per three characters, at least two.
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance, case-insensitive (a key typed in the wrong case is
/// a typo too).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("Mode", "mode"), 0);
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["poll.interval.ms", "batch.max.rows", "mode"];
        assert_eq!(did_you_mean("poll.interval.msec", keys), "; did you mean `poll.interval.ms`?");
        assert_eq!(did_you_mean("batch.max.row", keys), "; did you mean `batch.max.rows`?");
        assert_eq!(did_you_mean("completely.different", keys), "");
    }
}
