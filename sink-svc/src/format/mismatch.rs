//! Why a value does not fit its column, and where in the value.

use std::fmt;

/// Where in a value and why it does not fit its column.
#[derive(Debug)]
pub(super) struct Mismatch {
    path: String,
    message: String,
}

impl Mismatch {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self { path: String::new(), message: message.into() }
    }

    /// The same problem, one level further out (under field `name`).
    pub(super) fn under(mut self, name: &str) -> Self {
        self.path = match self.path.as_str() {
            "" => name.to_owned(),
            p if p.starts_with('[') => format!("{name}{p}"),
            p => format!("{name}.{p}"),
        };
        self
    }

    pub(super) fn at_index(mut self, i: usize) -> Self {
        self.path = format!(
            "[{i}]{}",
            if self.path.starts_with('[') || self.path.is_empty() {
                self.path.clone()
            } else {
                format!(".{}", self.path)
            }
        );
        self
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field {}: {}", self.path, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_field_access() {
        let m = Mismatch::new("null in a required field").under("x").at_index(2).under("points");
        assert_eq!(m.to_string(), "field points[2].x: null in a required field");
        let m = Mismatch::new("bad").at_index(0).under("tags").under("outer");
        assert_eq!(m.to_string(), "field outer.tags[0]: bad");
        assert_eq!(Mismatch::new("plain").to_string(), "plain");
    }
}
