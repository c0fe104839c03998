//! Functions that the pipeline SQL can call beyond DataFusion's own.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `json_or_raw(text)`: the text itself when it is valid JSON, otherwise
/// `{"raw": <text>}`. Audit rows are kept for seven years and may never be
/// dropped, so malformed payloads are wrapped, not rejected.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonOrRaw {
    signature: Signature,
}

impl JsonOrRaw {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(JsonOrRaw {
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for JsonOrRaw {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "json_or_raw"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(
                "json_or_raw takes one argument".into(),
            ));
        };
        let array = arg.to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(json_or_raw(&array)?))
    }
}

fn json_or_raw(array: &ArrayRef) -> Result<ArrayRef> {
    let text = cast(array, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(text.len(), text.value_data().len() + 16);
    for v in text.iter() {
        match v {
            None => out.append_null(),
            Some(s) if is_json(s) => out.append_value(s),
            Some(s) => out.append_value(serde_json::json!({ "raw": s }).to_string()),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `is_json(text)`: whether the text parses as JSON (NULL for NULL), so a
/// check can find payloads that `json_or_raw` would wrap.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsJson {
    signature: Signature,
}

impl IsJson {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(IsJson {
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for IsJson {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "is_json"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Plan("is_json takes one argument".into()));
        };
        let array = arg.to_array(args.number_rows)?;
        let text = cast(&array, &DataType::Utf8)?;
        let out: BooleanArray = text
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(is_json))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn is_json(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// `json_build_object(key, value, …)`: a JSON object as text, like
/// Postgres's function of that name, so that a transform can keep fields the
/// target has no column for (e.g. a legacy row's flags and free text in an
/// audit row's `details`) without building JSON by string concatenation,
/// which gets quotes and new lines wrong. Text values become JSON strings,
/// booleans and numbers stay what they are, timestamps become their ISO text
/// and NULL becomes `null`; keys must be non-NULL text.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(JsonBuildObject {
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "json_build_object"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(json_build_object(
            &arrays,
            args.number_rows,
        )?))
    }
}

/// One argument of `json_build_object`, converted once per batch.
enum JsonColumn {
    Text(ArrayRef),
    Bool(BooleanArray),
    /// Integers, floats and decimals: their display text is a JSON number.
    Number(ArrayRef),
    /// Anything else (timestamps, dates): as a JSON string of its display text.
    Display(ArrayRef),
}

impl JsonColumn {
    fn of(array: &ArrayRef) -> Result<Self> {
        let t = array.data_type();
        Ok(if t.is_numeric() {
            JsonColumn::Number(array.clone())
        } else if matches!(t, DataType::Boolean | DataType::Null) {
            JsonColumn::Bool(cast(array, &DataType::Boolean)?.as_boolean().clone())
        } else if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            JsonColumn::Text(cast(array, &DataType::Utf8)?)
        } else {
            JsonColumn::Display(array.clone())
        })
    }

    /// The JSON text of row `row`.
    fn json(&self, row: usize) -> Result<String> {
        let display = |a: &ArrayRef| {
            datafusion::arrow::util::display::array_value_to_string(a, row)
                .map_err(|e| DataFusionError::Execution(format!("json_build_object: {e}")))
        };
        Ok(match self {
            JsonColumn::Text(a) if a.is_valid(row) => {
                serde_json::Value::from(a.as_string::<i32>().value(row)).to_string()
            }
            JsonColumn::Bool(a) if a.is_valid(row) => a.value(row).to_string(),
            JsonColumn::Number(a) if a.is_valid(row) => {
                let text = display(a)?;
                match serde_json::from_str::<serde_json::Number>(&text) {
                    Ok(_) => text,
                    // NaN or infinity: not a JSON number.
                    Err(_) => serde_json::Value::from(text).to_string(),
                }
            }
            JsonColumn::Display(a) if a.is_valid(row) => {
                serde_json::Value::from(display(a)?).to_string()
            }
            _ => "null".to_string(),
        })
    }
}

fn json_build_object(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    if args.len() % 2 != 0 {
        return Err(DataFusionError::Plan(
            "json_build_object takes key, value pairs: an even number of arguments".into(),
        ));
    }
    let columns = args
        .iter()
        .map(JsonColumn::of)
        .collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(rows, rows * 64);
    let mut text = String::new();
    for row in 0..rows {
        text.clear();
        text.push('{');
        for (i, pair) in columns.chunks(2).enumerate() {
            let key = match &pair[0] {
                JsonColumn::Text(a) if a.is_valid(row) => a.as_string::<i32>().value(row),
                _ => {
                    return Err(DataFusionError::Execution(format!(
                        "json_build_object: key number {} must be text and not NULL",
                        i + 1
                    )))
                }
            };
            if i > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::Value::from(key).to_string());
            text.push(':');
            text.push_str(&pair[1].json(row)?);
        }
        text.push('}');
        out.append_value(&text);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    #[test]
    fn wraps_only_invalid_json() {
        let input: ArrayRef = Arc::new(StringArray::from(vec![
            Some("{\"a\":1}"),
            Some("{\"a\": trunc"),
            None,
        ]));
        let out = json_or_raw(&input).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "{\"a\":1}");
        assert_eq!(out.value(1), "{\"raw\":\"{\\\"a\\\": trunc\"}");
        assert!(out.is_null(2));
    }

    #[test]
    fn builds_objects_with_escaped_text_and_typed_values() {
        use datafusion::arrow::array::{Int64Array, StringArray};
        let key = |k: &str| -> ArrayRef { Arc::new(StringArray::from(vec![k, k])) };
        let args: Vec<ArrayRef> = vec![
            key("text"),
            Arc::new(StringArray::from(vec![Some("say \"hi\"\nbye"), None])),
            key("flag"),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            key("n"),
            Arc::new(Int64Array::from(vec![Some(-3), Some(7)])),
        ];
        let out = json_build_object(&args, 2).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(
            out.value(0),
            "{\"text\":\"say \\\"hi\\\"\\nbye\",\"flag\":true,\"n\":-3}"
        );
        assert_eq!(out.value(1), "{\"text\":null,\"flag\":null,\"n\":7}");
        assert!(serde_json::from_str::<serde_json::Value>(out.value(0)).is_ok());
        assert!(json_build_object(&args[..3], 2).is_err());
    }
}
