//! The `sasl.jaas.config` value: `<LoginModule class> <flag> name="value" ...;`
//! as Kafka's `JaasConfig` reads it.

use std::collections::BTreeMap;

/// One login module entry of a JAAS configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module class, e.g. `org.apache.kafka.common.security.scram.ScramLoginModule`.
    pub module: String,
    /// Its options (values may be passwords: never print them).
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// Whether the module's class is `name`, with or without its package.
    pub fn is(&self, name: &str) -> bool {
        self.module == name || self.module.rsplit('.').next() == Some(name)
    }
}

impl std::fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasEntry")
            .field("module", &self.module)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses the single login module entry Kafka clients take. The error says
/// what is malformed and never repeats the text (it holds passwords).
pub fn parse(text: &str) -> Result<JaasEntry, &'static str> {
    let mut tokens = Tokens { rest: text };
    let module = match tokens.next()? {
        Some(Token::Word(word)) => word,
        _ => return Err("expected `<LoginModule class> required name=\"value\" ...;`"),
    };
    match tokens.next()? {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"]
                .iter()
                .any(|f| flag.eq_ignore_ascii_case(f)) => {}
        _ => return Err("the login module class must be followed by `required`"),
    }
    let mut options = BTreeMap::new();
    loop {
        let name = match tokens.next()? {
            Some(Token::Word(name)) => name,
            Some(Token::End) => break,
            None => return Err("the entry must end with `;`"),
            Some(_) => return Err("expected an option name=\"value\""),
        };
        if tokens.next()? != Some(Token::Equals) {
            return Err("expected `=` after an option name");
        }
        let value = match tokens.next()? {
            Some(Token::Word(value) | Token::Quoted(value)) => value,
            _ => return Err("expected a value after `=`"),
        };
        options.insert(name, value);
    }
    match tokens.next()? {
        None => Ok(JaasEntry { module, options }),
        Some(_) => Err("only one login module entry is supported"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    End,
}

struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    fn next(&mut self) -> Result<Option<Token>, &'static str> {
        self.rest = self.rest.trim_start();
        let mut chars = self.rest.char_indices();
        let Some((_, first)) = chars.next() else { return Ok(None) };
        let (token, used) = match first {
            '=' => (Token::Equals, 1),
            ';' => (Token::End, 1),
            '"' => {
                // Backslash escapes as java.io.StreamTokenizer reads them.
                let mut value = String::new();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, 't')) => value.push('\t'),
                            Some((_, 'r')) => value.push('\r'),
                            Some((_, other)) => value.push(other),
                            None => break,
                        },
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (Token::Quoted(value), end.ok_or("a quoted value is not closed")?)
            }
            _ => {
                let end = self
                    .rest
                    .find(|c: char| c.is_whitespace() || c == '=' || c == ';' || c == '"')
                    .unwrap_or(self.rest.len());
                (Token::Word(self.rest[..end].to_owned()), end)
            }
        };
        self.rest = &self.rest[used..];
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_entry_with_quotes_and_escapes() {
        let entry = parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  \
             username=\"hydrate\" password=\"p\\\"w;d=\" extra=plain;",
        )
        .unwrap();
        assert!(entry.is("ScramLoginModule"));
        assert_eq!(entry.options["username"], "hydrate");
        assert_eq!(entry.options["password"], "p\"w;d=");
        assert_eq!(entry.options["extra"], "plain");
        assert!(!format!("{entry:?}").contains("p\\\"w"), "debug output shows option names only");
    }

    #[test]
    fn msk_entry_without_options() {
        let entry = parse("software.amazon.msk.auth.iam.IAMLoginModule required;").unwrap();
        assert!(entry.is("IAMLoginModule") && entry.options.is_empty());
    }

    #[test]
    fn malformed_entries_are_refused_without_echoing_them() {
        for text in [
            "",
            "X",
            "X required password=\"secret",
            "X required password=\"secret\"",
            "X required password;",
            "X maybe password=\"secret\";",
            "X required; Y required;",
        ] {
            let err = parse(text).unwrap_err();
            assert!(!err.contains("secret"), "{text}: {err}");
        }
    }
}
