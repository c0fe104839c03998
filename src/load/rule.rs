//! The simple CHECK constraints of one column that the encoder can evaluate
//! itself, so that a value outside them is a counted finding of the fit
//! check instead of the server's error at the first row: `col IN ('a', …)`
//! and `col <op> number`. Anything else is left to the server.

/// One column's CHECK constraint, as far as padetl understands it.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `col IN ('a', 'b')` (the catalog writes `col = ANY (ARRAY[…])`).
    OneOf(Vec<String>),
    /// `col > 0`, `col >= 0`, `col < 100`, ….
    Compare(Op, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "<>",
        }
    }
}

impl Rule {
    /// Reads `pg_get_constraintdef`'s text of a CHECK on `column` alone;
    /// `None` for anything but the two simple forms.
    pub fn parse(column: &str, definition: &str) -> Option<Rule> {
        let body = definition.trim().strip_prefix("CHECK")?.trim();
        if let Some((lhs, rhs)) = body.split_once(" = ANY ") {
            if bare(lhs) != column {
                return None;
            }
            return Some(Rule::OneOf(quoted_literals(rhs)?));
        }
        for op in [Op::Ge, Op::Le, Op::Ne, Op::Gt, Op::Lt, Op::Eq] {
            let sep = format!(" {} ", op.sql());
            if let Some((lhs, rhs)) = body.split_once(sep.as_str()) {
                if bare(lhs) != column {
                    return None;
                }
                let n: f64 = bare(rhs).trim_matches('\'').parse().ok()?;
                return Some(Rule::Compare(op, n));
            }
        }
        None
    }

    /// Why `value` breaks the rule, or `None` when it keeps it.
    pub fn text_breaks(&self, value: &str) -> Option<String> {
        match self {
            Rule::OneOf(values) if !values.iter().any(|v| v == value) => Some(format!(
                "(`{value}`) is not one of the column's allowed values ({})",
                values.join(", ")
            )),
            _ => None,
        }
    }

    /// Why `value` breaks the rule, or `None` when it keeps it.
    pub fn number_breaks(&self, value: f64) -> Option<String> {
        let Rule::Compare(op, bound) = *self else {
            return None;
        };
        let ok = match op {
            Op::Lt => value < bound,
            Op::Le => value <= bound,
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
            Op::Eq => value == bound,
            Op::Ne => value != bound,
        };
        (!ok).then(|| {
            format!(
                "({value}) breaks the column's CHECK (value {} {bound})",
                op.sql()
            )
        })
    }
}

/// `((direction)::text` → `direction`: parentheses, casts and quotes off.
fn bare(expr: &str) -> &str {
    let mut s = expr.trim();
    loop {
        let before = s;
        s = s.trim_start_matches('(').trim_end_matches(')');
        if let Some((head, _cast)) = s.rsplit_once("::") {
            if !head.contains('\'') || head.ends_with('\'') {
                s = head;
            }
        }
        s = s.trim().trim_matches('"');
        if s == before {
            return s;
        }
    }
}

/// The string literals of `ARRAY['a'::text, 'b'::text]`, `''` unescaped.
fn quoted_literals(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                c => value.push(c),
            }
        }
        out.push(value);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_catalogs_in_list_for_varchar_and_text() {
        let varchar = "CHECK (((direction)::text = ANY ((ARRAY['buy'::character varying, 'sell'::character varying])::text[])))";
        assert_eq!(
            Rule::parse("direction", varchar),
            Some(Rule::OneOf(vec!["buy".into(), "sell".into()]))
        );
        let text = "CHECK ((severity = ANY (ARRAY['low'::text, 'it''s'::text])))";
        assert_eq!(
            Rule::parse("severity", text),
            Some(Rule::OneOf(vec!["low".into(), "it's".into()]))
        );
        assert_eq!(Rule::parse("other", text), None);
    }

    #[test]
    fn reads_comparisons_with_a_number() {
        assert_eq!(
            Rule::parse("quantity", "CHECK ((quantity > (0)::numeric))"),
            Some(Rule::Compare(Op::Gt, 0.0))
        );
        assert_eq!(
            Rule::parse("price", "CHECK ((price >= 0.5))"),
            Some(Rule::Compare(Op::Ge, 0.5))
        );
        assert_eq!(Rule::parse("a", "CHECK ((a > b))"), None);
        assert_eq!(Rule::parse("a", "CHECK ((length(a) > 3))"), None);
    }

    #[test]
    fn says_why_a_value_breaks_it() {
        let one_of = Rule::OneOf(vec!["buy".into(), "sell".into()]);
        assert_eq!(one_of.text_breaks("buy"), None);
        assert!(one_of
            .text_breaks("hold")
            .is_some_and(|m| m.contains("buy, sell")));
        let positive = Rule::Compare(Op::Gt, 0.0);
        assert_eq!(positive.number_breaks(1.0), None);
        assert!(positive.number_breaks(0.0).is_some());
    }
}
