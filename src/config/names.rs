//! SQL identifiers as types, so that nothing user-written is spliced into SQL
//! unquoted (STYLE: identifiers always quoted).

use std::fmt;

/// An identifier as SQL, quoted so that any name is safe: the one way
/// padetl quotes names, for Postgres and DataFusion alike.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A validated SQL identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes
/// (Postgres' NAMEDATALEN). Rendered quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Ident(String);

impl Ident {
    /// Accepts plain identifiers only; anything needing quotes to be legal is
    /// rejected rather than silently quoted, because it is almost always a typo.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || !rest_ok {
            return Err(format!(
                "`{raw}` is not a plain SQL identifier (letters, digits, underscore; not starting with a digit)"
            ));
        }
        if raw.len() > 63 {
            return Err(format!("`{raw}` is longer than 63 bytes"));
        }
        Ok(Ident(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier quoted for Postgres and DataFusion alike.
    pub fn quoted(&self) -> String {
        quote(&self.0)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table of the application schema (unqualified: its schema is the target's app schema).
pub type TableName = Ident;

/// `schema.table`, both parts validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct QualifiedName {
    pub schema: Ident,
    pub table: Ident,
}

impl QualifiedName {
    pub fn new(schema: Ident, table: Ident) -> Self {
        QualifiedName { schema, table }
    }

    /// Parses `schema.table`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.split_once('.') {
            Some((s, t)) => Ok(QualifiedName::new(Ident::parse(s)?, Ident::parse(t)?)),
            None => Err(format!("`{raw}` must be written as schema.table")),
        }
    }

    /// `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", self.schema.quoted(), self.table.quoted())
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_and_quoted() {
        assert_eq!(
            Ident::parse("pad_request").unwrap().quoted(),
            "\"pad_request\""
        );
        assert!(Ident::parse("1abc").is_err());
        assert!(Ident::parse("a;drop").is_err());
        assert!(Ident::parse("").is_err());
        let q = QualifiedName::parse("bo_airflow.oracle_employee").unwrap();
        assert_eq!(q.quoted(), "\"bo_airflow\".\"oracle_employee\"");
        assert!(QualifiedName::parse("nodot").is_err());
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }
}
