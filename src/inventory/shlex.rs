//! TEMPORARY STUB (replaced by the real module)
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ShlexError(pub String);
pub fn split(line: &str) -> Result<Vec<String>, ShlexError> {
    let mut v = Vec::new();
    for t in line.split_whitespace() {
        if t.starts_with('#') {
            break;
        }
        v.push(t.trim_matches('"').to_string());
    }
    Ok(v)
}
pub fn quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
        && !s.is_empty()
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}
