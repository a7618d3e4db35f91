//! [`StoredId`]: a JSON field that takes only a JSON string (poem-openapi's `String` also
//! takes a number or a boolean — `false` becomes `"false"` — which the document does not say)
//! held to what an id stored in PostgreSQL can be: 1–255 bytes, no NUL. Anything else answers
//! 400, as its schema promises. Checked without a regex: poem-openapi's `pattern` validator
//! compiles its regex again for every element of an array, seconds for a thousand ids in a
//! debug build.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// An id as stored (a user id): a JSON string of 1–255 bytes without NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredId(pub String);

impl StoredId {
    const MAX_BYTES: usize = 255;
}

impl Type for StoredId {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string(stored_id)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(Self::MAX_BYTES),
            pattern: Some(r"^[^\x00]+$".into()),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for StoredId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s)
                if !s.is_empty() && s.len() <= Self::MAX_BYTES && !s.contains('\0') =>
            {
                Ok(Self(s))
            }
            Value::String(_) => Err(ParseError::custom("an id is 1 to 255 bytes without NUL")),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for StoredId {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ids_are_held_to_their_schema() {
        let parse = |v: Value| StoredId::parse_from_json(Some(v));
        assert_eq!(
            parse(Value::String("u1".into())).unwrap(),
            StoredId("u1".into())
        );
        assert!(parse(Value::String(String::new())).is_err());
        assert!(parse(Value::String("a\0b".into())).is_err());
        assert!(parse(Value::String("x".repeat(256))).is_err());
        assert!(parse(serde_json::json!(7)).is_err());
    }
}
