//! Stub replaced by the real module (merge).
#![allow(missing_docs, clippy::missing_errors_doc)]
use serde_json::Value;
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CreatePlan {
    pub name: String,
    pub body: Value,
    pub extra_networks: Vec<(String, Value)>,
    pub start: bool,
}
pub fn plan(_c: &Value, _o: &Value, _n: &str, _api: (u32, u32)) -> anyhow::Result<CreatePlan> {
    anyhow::bail!("stub")
}
pub fn dependents(_id: &str, _name: &str, _all: &[Value]) -> Vec<String> {
    Vec::new()
}
pub fn retarget_network(_plan: &mut CreatePlan, _target: &str) {}
pub fn describe(_plan: &CreatePlan) -> Vec<String> {
    Vec::new()
}
