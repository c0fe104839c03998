//! A migration file as statements, and the tables each one touches: what
//! lets a target whose tables sit at different versions be upgraded table by
//! table. A small lexer (quotes, dollar quotes, comments) is enough for the
//! project's own SQL; whether a step really can run on its own is then
//! proved on scratch copies of the target's tables (`super::simulate`).

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Statement {
    /// 1-based line of its first token.
    pub line: usize,
    pub sql: String,
}

/// Splits `sql` at its top-level semicolons.
pub fn split(sql: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let bytes = sql.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => i = skip_quoted(bytes, i, bytes[i]),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2)
            }
            b'$' => i = skip_dollar(sql, i),
            b';' => {
                push(&mut out, sql, start, i);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    push(&mut out, sql, start, bytes.len());
    out
}

fn push(out: &mut Vec<Statement>, sql: &str, start: usize, end: usize) {
    let text = &sql[start..end];
    let Some(offset) = first_code(text) else {
        return;
    };
    let line = sql[..start + offset].matches('\n').count() + 1;
    out.push(Statement {
        line,
        sql: text.trim().to_string(),
    });
}

/// Byte offset of the first character that is not white space or comment.
fn first_code(text: &str) -> Option<usize> {
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("--") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |n| n + 2);
        } else if rest.starts_with(char::is_whitespace) {
            i += rest.chars().next().map_or(1, char::len_utf8);
        } else {
            return Some(i);
        }
    }
    None
}

fn skip_quoted(bytes: &[u8], at: usize, quote: u8) -> usize {
    let mut i = at + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Past a `$tag$ … $tag$` string; a lone `$` (a parameter) is one byte.
fn skip_dollar(sql: &str, at: usize) -> usize {
    let rest = &sql[at + 1..];
    let tag_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[tag_len..].starts_with('$')
        || rest[..tag_len].starts_with(|c: char| c.is_ascii_digit())
    {
        return at + 1;
    }
    let tag = &sql[at..at + tag_len + 2];
    match sql[at + tag.len()..].find(tag) {
        Some(n) => at + tag.len() + n + tag.len(),
        None => sql.len(),
    }
}

/// The tables of `names` a statement touches: the one it changes, when it
/// says (`ALTER TABLE x`, `UPDATE x`, `CREATE INDEX … ON x`, …, or a helper
/// call naming one table), and the others it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touches {
    pub changes: Option<String>,
    pub reads: Vec<String>,
}

/// What `statement` touches among `names` (the managed tables' names at
/// any version).
pub fn touches(statement: &str, names: &[String]) -> Touches {
    let tokens = tokens(statement);
    let named = |t: &&Token, text: bool| match t {
        Token::Word(w) | Token::Quoted(w) => !text && names.iter().any(|n| n == w),
        Token::Text(w) => text && names.iter().any(|n| n == w),
        Token::Punct(_) => false,
    };
    let changes = changed_table(&tokens).filter(|n| names.contains(n));
    let mut reads: Vec<String> = Vec::new();
    for t in tokens.iter().filter(|t| named(t, false)) {
        let name = t.text().to_string();
        if Some(&name) != changes.as_ref() && !reads.contains(&name) {
            reads.push(name);
        }
    }
    if changes.is_some() {
        return Touches { changes, reads };
    }
    // A helper call names its table in a string: `SELECT f('pad_request')`.
    if reads.is_empty() {
        let mut texts = tokens
            .iter()
            .filter(|t| named(t, true))
            .map(|t| t.text().to_string());
        if let (Some(only), None) = (texts.next(), texts.next()) {
            reads.push(only);
        }
    }
    match reads.len() {
        1 => Touches {
            changes: reads.pop(),
            reads,
        },
        _ => Touches {
            changes: None,
            reads,
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, lower-cased.
    Word(String),
    /// A quoted identifier.
    Quoted(String),
    /// A string literal's text.
    Text(String),
    Punct(char),
}

impl Token {
    fn text(&self) -> &str {
        match self {
            Token::Word(s) | Token::Quoted(s) | Token::Text(s) => s,
            Token::Punct(_) => "",
        }
    }

    fn is(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w == word)
    }
}

fn tokens(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if sql[i..].starts_with("--") {
            i += sql[i..].find('\n').unwrap_or(sql.len() - i);
        } else if sql[i..].starts_with("/*") {
            i += sql[i..].find("*/").map_or(sql.len() - i, |n| n + 2);
        } else if c == '\'' || c == '"' {
            let end = skip_quoted(bytes, i, bytes[i]);
            let inner = sql[i + 1..end.saturating_sub(1).max(i + 1)].to_string();
            out.push(match c {
                '\'' => Token::Text(inner),
                _ => Token::Quoted(inner),
            });
            i = end;
        } else if c == '$' {
            i = skip_dollar(sql, i);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = sql[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(sql.len() - i);
            out.push(Token::Word(sql[i..i + len].to_ascii_lowercase()));
            i += len;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// The table a statement changes, after its leading keywords.
fn changed_table(t: &[Token]) -> Option<String> {
    let at = |i: usize, w: &str| t.get(i).is_some_and(|x| x.is(w));
    let start = if at(0, "alter") && at(1, "table") {
        2
    } else if at(0, "update") || (at(0, "truncate") && !at(1, "table")) {
        1
    } else if (at(0, "insert") && at(1, "into"))
        || (at(0, "delete") && at(1, "from"))
        || (at(0, "truncate") && at(1, "table"))
        || ((at(0, "create") || at(0, "drop")) && at(1, "table"))
    {
        2
    } else if at(0, "create") && (at(1, "index") || (at(1, "unique") && at(2, "index"))) {
        let on = t.iter().position(|x| x.is("on"))?;
        on + 1
    } else {
        return None;
    };
    let mut i = start;
    while t
        .get(i)
        .is_some_and(|x| x.is("if") || x.is("not") || x.is("exists") || x.is("only"))
    {
        i += 1;
    }
    // `schema.table`: the name after the dot.
    if t.get(i + 1) == Some(&Token::Punct('.')) {
        i += 2;
    }
    t.get(i)
        .map(|x| x.text().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_top_level_semicolons_with_their_lines() {
        let sql = "-- a comment; not a statement\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\nUPDATE t SET x = 'a;b';\n/* ; */ SELECT 2";
        let s = split(sql);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].line, 2);
        assert!(s[0].sql.ends_with("LANGUAGE sql"));
        assert_eq!(
            (s[1].line, s[1].sql.as_str()),
            (4, "UPDATE t SET x = 'a;b'")
        );
        assert_eq!(s[2].line, 5);
    }

    fn names() -> Vec<String> {
        ["pad_request", "pad_execution", "audit_logs", "audit_log"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn a_statement_says_which_table_it_changes_and_which_it_reads() {
        let t = touches(
            "UPDATE pad_execution e SET currency = upper(r.currency) FROM pad_request r WHERE r.id = e.request_id",
            &names(),
        );
        assert_eq!(t.changes.as_deref(), Some("pad_execution"));
        assert_eq!(t.reads, ["pad_request"]);
        let t = touches("ALTER TABLE audit_logs RENAME TO audit_log", &names());
        assert_eq!(t.changes.as_deref(), Some("audit_logs"));
        assert_eq!(
            touches("CREATE INDEX x ON pad_request (status)", &names())
                .changes
                .as_deref(),
            Some("pad_request")
        );
        assert_eq!(
            touches(
                "SELECT pg_temp.padetl_to_identity('pad_execution')",
                &names()
            )
            .changes
            .as_deref(),
            Some("pad_execution")
        );
        let helper = touches("DROP FUNCTION pg_temp.padetl_json_or_raw(text)", &names());
        assert_eq!(helper, Touches::default());
        let literal = touches(
            "UPDATE audit_log SET entity_type = CASE WHEN request_id IS NULL THEN 'system' ELSE 'pad_request' END",
            &names(),
        );
        assert_eq!(
            literal.reads,
            Vec::<String>::new(),
            "a string is not a table read"
        );
    }
}
