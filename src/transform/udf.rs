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
}
