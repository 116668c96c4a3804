//! TEMPORARY STUB (replaced by the real module)
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    BigInt(String),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LiteralError(pub String);
pub fn parse_value(src: &str) -> Result<Value, LiteralError> {
    if let Ok(i) = src.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    match src {
        "True" => Ok(Value::Bool(true)),
        "False" => Ok(Value::Bool(false)),
        "None" => Ok(Value::Null),
        _ => Ok(Value::Str(src.to_string())),
    }
}
impl Value {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Str(s) => s.clone().into(),
            _ => serde_json::Value::Null,
        }
    }
}
pub fn python_str_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}
