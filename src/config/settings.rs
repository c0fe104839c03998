//! The rules of the pipeline's typed settings, in one place: the TOML
//! reader names them when a value has the wrong type (`batch_size = -5`),
//! and the resolver when a number is out of range (`batch_size = 0`).

/// A whole-number setting and its bounds (inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Bounded {
    pub key: &'static str,
    pub min: u64,
    pub max: u64,
}

/// Rows per page read, transformed and copied.
pub const BATCH_SIZE: Bounded = Bounded {
    key: "batch_size",
    min: 1,
    max: 10_000_000,
};

/// Source connections per table.
pub const READERS: Bounded = Bounded {
    key: "readers",
    min: 1,
    max: 32,
};

/// Violating rows shown per check.
pub const SAMPLE_ROWS: Bounded = Bounded {
    key: "sample_rows",
    min: 0,
    max: 1000,
};

impl Bounded {
    /// `a whole number from 1 to 32`.
    pub fn rule(&self) -> String {
        format!("a whole number from {} to {}", self.min, self.max)
    }

    /// The value, or the message that names the key and the rule.
    pub fn check(&self, value: u64) -> Result<usize, String> {
        match (self.min..=self.max).contains(&value) {
            true => usize::try_from(value).map_err(|_| self.message(&value.to_string())),
            false => Err(self.message(&value.to_string())),
        }
    }

    fn message(&self, found: &str) -> String {
        format!("`{}` must be {} (found {found})", self.key, self.rule())
    }
}

/// What the value of `key` must be, for every key whose type TOML checks;
/// `None` for a key padetl does not know (serde names it as unknown).
pub fn rule(key: &str) -> Option<String> {
    let bounded = [BATCH_SIZE, READERS, SAMPLE_ROWS];
    if let Some(b) = bounded.iter().find(|b| b.key == key) {
        return Some(b.rule());
    }
    let rule = match key {
        "min_rows" => "a whole number of 0 or more",
        "confirm" | "not_shrink" => "true or false",
        "min" | "max" => "a number",
        "include" | "values" | "mask_columns" => "a list of strings, e.g. [\"a\", \"b\"]",
        "url" | "env" | "description" | "timezone" | "app_schema" | "reference_schema"
        | "migrations" | "lock_timeout" | "statement_timeout" | "name" | "table" | "kind"
        | "policy" | "column" | "keymap" | "sql" | "source" | "query" | "key" | "mode" | "id"
        | "expr" | "source_query" | "target_query" => "a string in quotes",
        _ => return None,
    };
    Some(rule.to_string())
}

/// The TOML key whose value starts at byte `at` of `text` (`batch_size` in
/// `batch_size = -5`, `key` in `{ key = "id" }`).
pub fn key_before(text: &str, at: usize) -> Option<&str> {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..at]
        .trim_end()
        .strip_suffix('=')?
        .trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |i| i + 1);
    Some(&before[start..]).filter(|k| !k.is_empty())
}

/// A type error in a typed setting, as a person reads it: the key, the rule
/// and the value found.
pub fn type_error(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let key = key_before(text, span.start)?;
    let rule = rule(key)?;
    let found = text.get(span)?.trim();
    Some(format!("`{key}` must be {rule} (found {found})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_batch_size_names_the_key_and_the_rule() {
        let text = "[settings]\nbatch_size = -5\n";
        let at = text.find("-5").unwrap();
        assert_eq!(
            type_error(text, at..at + 2).as_deref(),
            Some("`batch_size` must be a whole number from 1 to 10000000 (found -5)")
        );
        assert_eq!(
            BATCH_SIZE.check(0).unwrap_err(),
            "`batch_size` must be a whole number from 1 to 10000000 (found 0)"
        );
        assert_eq!(READERS.check(4), Ok(4));
    }

    #[test]
    fn keys_are_found_in_inline_tables_and_unknown_ones_are_left_to_serde() {
        let text = "t = { key = 5 }";
        assert_eq!(key_before(text, text.find('5').unwrap()), Some("key"));
        assert_eq!(rule("confirm").as_deref(), Some("true or false"));
        assert_eq!(rule("no_such_key"), None);
    }
}
