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
    /// `None` for anything but the two simple forms, written exactly so. A
    /// rule that refused a valid value would lose rows, so anything
    /// doubtful (a boolean combination, a cast on the column other than to
    /// text for a list, a bound that is not a finite number) is left to
    /// the server.
    pub fn parse(column: &str, definition: &str) -> Option<Rule> {
        let body = definition.trim().strip_prefix("CHECK")?.trim();
        let upper = body.to_ascii_uppercase();
        if [" OR ", " AND ", "NOT ", " CASE ", "~", "COALESCE"]
            .iter()
            .any(|w| upper.contains(w))
        {
            return None;
        }
        if let Some((lhs, rhs)) = body.split_once(" = ANY ") {
            if column_of(lhs, true)? != column {
                return None;
            }
            return Some(Rule::OneOf(array_literals(rhs)?));
        }
        for op in [Op::Ge, Op::Le, Op::Ne, Op::Gt, Op::Lt, Op::Eq] {
            let sep = format!(" {} ", op.sql());
            if let Some((lhs, rhs)) = body.split_once(sep.as_str()) {
                if column_of(lhs, false)? != column {
                    return None;
                }
                let n: f64 = number_of(rhs)?.parse().ok()?;
                return n.is_finite().then_some(Rule::Compare(op, n));
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
        // NaN sorts above every number in Postgres, and an f64 is exact
        // only to 2^53: both are the server's to judge.
        if value.is_nan() || value.abs() > 9_007_199_254_740_992.0 {
            return None;
        }
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

/// The column of a rule's left side: `((direction)` or, for a list,
/// `((direction)::text`; `None` for any other expression.
fn column_of(lhs: &str, text_cast: bool) -> Option<&str> {
    let mut s = lhs.trim().trim_start_matches('(');
    if let Some(inner) = s.strip_suffix(")::text") {
        if !text_cast {
            return None;
        }
        s = inner;
    }
    let s = s.trim_end_matches(')').trim_matches('"');
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(s)
}

/// The number of a comparison's right side: `0`, `(0)::numeric`,
/// `'0.5'::numeric`, followed only by closing parentheses.
fn number_of(rhs: &str) -> Option<&str> {
    let s = rhs.trim().trim_end_matches(')');
    let s = s.split_once("::").map_or(s, |(value, cast)| {
        match cast.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
            true => value,
            false => "",
        }
    });
    let s = s
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim_matches('\'');
    let numeric = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    numeric.then_some(s)
}

/// The string literals of `(ARRAY['a'::text, 'b'::text])` (optionally cast
/// to an array type), `''` unescaped; `None` unless that is all there is.
fn array_literals(rhs: &str) -> Option<Vec<String>> {
    let s = rhs.trim().trim_start_matches('(');
    let inner = s.strip_prefix("ARRAY[")?;
    let (items, rest) = inner.split_at(closing_bracket(inner)?);
    let rest = &rest[1..];
    let rest = rest.trim_end_matches(')');
    let rest_ok = rest.is_empty()
        || rest.strip_prefix(")::").is_some_and(|t| {
            t.ends_with("[]")
                && t.trim_end_matches("[]")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ')
        });
    if !rest_ok {
        return None;
    }
    let values = quoted_literals(items)?;
    let expected = items.split(", ").count();
    (values.len() == expected).then_some(values)
}

/// Where the `]` closing an `ARRAY[` is, outside quoted strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The string literals of `'a'::text, 'b'::text`, `''` unescaped.
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
        assert_eq!(Rule::parse("a", "CHECK ((a < 'NaN'::numeric))"), None);
    }

    #[test]
    fn anything_doubtful_is_left_to_the_server() {
        for (column, def) in [
            ("status", "CHECK ((status = ANY ('{a,b}'::text[])))"),
            (
                "status",
                "CHECK (((status = ANY (ARRAY['a'::text, 'b'::text])) OR (status ~~ 'x%'::text)))",
            ),
            (
                "price",
                "CHECK (((price > (0)::numeric) OR (price = '-1.5'::numeric)))",
            ),
            ("price", "CHECK (((price)::integer >= 1))"),
            ("grade", "CHECK ((upper(grade) = ANY (ARRAY['A'::text])))"),
        ] {
            assert_eq!(Rule::parse(column, def), None, "{def}");
        }
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
