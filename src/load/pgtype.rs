//! STUB
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType { Text }
impl PgType { pub fn from_catalog(_t: &str, _m: i32) -> Option<PgType> { None } }
