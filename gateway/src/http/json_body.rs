//! A request body's JSON as the document describes it: a whole number is an
//! integer however it is written (`317`, `317.0`, `3.17e2`: JSON Schema's
//! `integer`, which the OpenAPI document uses, admits all three, and some clients'
//! encoders write floats), and a member given twice is refused rather than one of
//! the two silently winning.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The body read into a [`Value`] with whole numbers as integers; a duplicate
/// member is an error at its path.
pub struct WholeNumbers(pub Value);

impl<'de> Deserialize<'de> for WholeNumbers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(Self)
    }
}

/// The largest integer an `f64` holds exactly (2^53); beyond it a float's digits
/// are not the ones the client wrote, so it stays a float (and fails as one).
const EXACT: f64 = 9_007_199_254_740_992.0;

fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() <= EXACT {
        // In range and whole: the casts are exact.
        if value < 0.0 {
            return Value::Number(Number::from(value as i64));
        }
        return Value::Number(Number::from(value as u64));
    }
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(number(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut list = Vec::new();
        while let Some(WholeNumbers(item)) = items.next_element()? {
            list.push(item);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = members.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(format!("member `{name}` given twice")));
            }
            let WholeNumbers(value) = members.next_value()?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Value, String> {
        serde_json::from_str::<WholeNumbers>(text)
            .map(|read| read.0)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers() {
        let read = read(r#"{"a": 317.0, "b": 3.17e2, "c": -2.0, "d": 0.5, "e": [1e0]}"#).unwrap();
        assert_eq!(read["a"], Value::from(317_u64));
        assert!(read["a"].is_u64());
        assert_eq!(read["b"], Value::from(317_u64));
        assert!(read["c"].is_i64());
        assert_eq!(read["c"], Value::from(-2_i64));
        assert!(read["d"].is_f64());
        assert!(read["e"][0].is_u64());
    }

    #[test]
    fn a_float_too_large_to_be_exact_stays_a_float() {
        let read = read(r#"{"a": 1e20}"#).unwrap();
        assert!(read["a"].is_f64());
    }

    #[test]
    fn a_member_given_twice_is_refused() {
        let error = read(r#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
        assert!(error.contains("member `b` given twice"), "{error}");
    }
}
