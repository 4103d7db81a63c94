//! Aligned plain-text tables, like `kubectl get`: columns separated by two
//! spaces, no borders, no trailing spaces.

/// A table with an optional header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

/// Longest cell text before it is cut with `...`.
const MAX_CELL_CHARS: usize = 80;

impl Table {
    /// A table whose first line names the columns.
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self { header: Some(header.iter().map(|h| (*h).to_owned()).collect()), rows: Vec::new() }
    }

    /// A headerless table of `key  value` lines.
    pub fn key_value() -> Self {
        Self::default()
    }

    /// Adds a row; newlines and tabs become visible escapes so that one row
    /// stays one line, and long cells are cut.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rows.push(cells.into_iter().map(|c| cell(c.as_ref())).collect());
        self
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let lines: Vec<&Vec<String>> = self.header.iter().chain(&self.rows).collect();
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in &lines {
            for (i, text) in line.iter().enumerate() {
                widths[i] = widths[i].max(text.chars().count());
            }
        }
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = widths[i] - cell.chars().count();
                text.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

fn cell(text: &str) -> String {
    let escaped = text.replace('\r', "").replace('\n', "\\n").replace('\t', "\\t");
    if escaped.chars().count() <= MAX_CELL_CHARS {
        escaped
    } else {
        let cut: String = escaped.chars().take(MAX_CELL_CHARS - 3).collect();
        format!("{cut}...")
    }
}

/// Indents every line of a multi-line text (error traces) by four spaces.
pub fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {}\n", l.trim_end())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut table = Table::new(["NAME", "STATE", "TASKS"]);
        table.row(["pg-source", "RUNNING", "2/2 running"]);
        table.row(["s3", "FAILED", ""]);
        assert_eq!(
            table.render(),
            "NAME       STATE    TASKS\n\
             pg-source  RUNNING  2/2 running\n\
             s3         FAILED\n"
        );
    }

    #[test]
    fn key_value_has_no_header() {
        let mut table = Table::key_value();
        table.row(["name", "pg"]).row(["revision", "12"]);
        assert_eq!(table.render(), "name      pg\nrevision  12\n");
    }

    #[test]
    fn cells_stay_on_one_line_and_are_cut() {
        let mut table = Table::new(["KEY", "VALUE"]);
        table.row(["query", "SELECT *\n\tFROM t"]);
        table.row(["long", &"x".repeat(100)]);
        let text = table.render();
        assert!(text.contains("SELECT *\\n\\tFROM t"), "{text}");
        assert!(text.contains(&format!("{}...", "x".repeat(77))), "{text}");
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn empty_table_prints_only_the_header() {
        let table = Table::new(["NAME"]);
        assert!(table.is_empty());
        assert_eq!(table.render(), "NAME\n");
    }

    #[test]
    fn traces_are_indented() {
        assert_eq!(indent("Boom\n\tat x  \n"), "    Boom\n    \tat x\n");
    }
}
