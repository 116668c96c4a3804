//! TEMPORARY STUB (replaced by the real module)
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct HostPatternError(pub String);
pub fn expand_hostpattern(token: &str) -> Result<(Vec<String>, Option<u64>), HostPatternError> {
    if let Some((h, p)) = token.rsplit_once(':') {
        if let Ok(p) = p.parse() {
            return Ok((vec![h.to_string()], Some(p)));
        }
    }
    Ok((vec![token.to_string()], None))
}
