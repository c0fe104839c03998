//! Target column types as the catalog states them (`pg_type.typname` and
//! `pg_attribute.atttypmod`): what the COPY encoder must produce and the
//! limits (length, precision, scale) a value must fit.

use std::fmt;

/// A Postgres column type the encoder can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`, or unconstrained.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Text,
    Varchar {
        max_chars: Option<u32>,
    },
    Bpchar {
        chars: Option<u32>,
    },
    Date,
    Timestamp,
    Timestamptz,
    Json,
    Jsonb,
    Uuid,
    Bytea,
}

impl PgType {
    /// Reads a catalog type; `None` for types padetl does not load.
    pub fn from_catalog(typname: &str, typmod: i32) -> Option<PgType> {
        let len = (typmod >= 4).then(|| (typmod - 4) as u32);
        Some(match typname {
            "bool" => PgType::Bool,
            "int2" => PgType::Int2,
            "int4" => PgType::Int4,
            "int8" => PgType::Int8,
            "float4" => PgType::Float4,
            "float8" => PgType::Float8,
            "numeric" => PgType::Numeric {
                precision: len.map(|m| (m >> 16) & 0xffff),
                scale: len.map(|m| m & 0xffff),
            },
            "text" => PgType::Text,
            "varchar" => PgType::Varchar { max_chars: len },
            "bpchar" => PgType::Bpchar { chars: len },
            "date" => PgType::Date,
            "timestamp" => PgType::Timestamp,
            "timestamptz" => PgType::Timestamptz,
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "uuid" => PgType::Uuid,
            "bytea" => PgType::Bytea,
            _ => return None,
        })
    }

    /// The type as SQL writes it, for messages.
    pub fn sql_name(&self) -> String {
        match self {
            PgType::Numeric {
                precision: Some(p),
                scale: Some(s),
            } => format!("numeric({p},{s})"),
            PgType::Numeric { .. } => "numeric".into(),
            PgType::Varchar { max_chars: Some(n) } => format!("varchar({n})"),
            PgType::Bpchar { chars: Some(n) } => format!("character({n})"),
            PgType::Bpchar { chars: None } => "character".into(),
            other => format!("{other:?}")
                .to_lowercase()
                .replace("varchar { max_chars: none }", "varchar"),
        }
    }
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typmods() {
        // numeric(20,4): typmod = ((20 << 16) | 4) + 4
        let typmod = ((20 << 16) | 4) + 4;
        assert_eq!(
            PgType::from_catalog("numeric", typmod),
            Some(PgType::Numeric {
                precision: Some(20),
                scale: Some(4)
            })
        );
        assert_eq!(
            PgType::from_catalog("numeric", -1),
            Some(PgType::Numeric {
                precision: None,
                scale: None
            })
        );
        assert_eq!(
            PgType::from_catalog("bpchar", 7),
            Some(PgType::Bpchar { chars: Some(3) })
        );
        assert_eq!(
            PgType::from_catalog("varchar", -1).map(|t| t.sql_name()),
            Some("varchar".into())
        );
        assert_eq!(PgType::from_catalog("point", -1), None);
    }
}
