//! An engine in memory for unit tests: containers and images as the engine's JSON
//! documents, with a count of the inspects the code under test made.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use serde_json::{Value, json};

use super::EngineRead;
use super::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary};

/// A read-only engine: it implements only [`EngineRead`].
#[derive(Default)]
pub struct FakeEngine {
    containers: Vec<Value>,
    images: Vec<Value>,
    /// Images the list endpoint hides (as the engine hides untagged parents).
    hidden: Vec<String>,
    /// Containers whose list row shows the image ID (their tag has moved).
    moved: Vec<String>,
    /// Containers listed but gone by the time they are inspected.
    vanished: Vec<String>,
    inspects: AtomicUsize,
}

impl FakeEngine {
    /// Adds a container `name` created as `created_as`, running image `image_id`.
    pub fn container(
        mut self,
        name: &str,
        created_as: &str,
        image_id: &str,
        running: bool,
    ) -> Self {
        self.containers.push(json!({
            "Id": format!("id-{name}"), "Name": format!("/{name}"), "Image": image_id,
            "Config": {"Image": created_as},
            "State": {"Running": running, "Status": if running {"running"} else {"exited"}},
        }));
        self
    }

    /// Adds an image known by `repo_tags` and `repo_digests`.
    pub fn image(mut self, id: &str, repo_tags: &[&str], repo_digests: &[&str]) -> Self {
        self.images
            .push(json!({"Id": id, "RepoTags": repo_tags, "RepoDigests": repo_digests}));
        self
    }

    /// Hides image `id` from the image list.
    pub fn hide_image(mut self, id: &str) -> Self {
        self.hidden.push(id.to_string());
        self
    }

    /// Makes container `name`'s list row show its image ID instead of its reference.
    pub fn tag_moved(mut self, name: &str) -> Self {
        self.moved.push(name.to_string());
        self
    }

    /// Makes container `name` disappear after the list was read.
    pub fn vanish(mut self, name: &str) -> Self {
        self.vanished.push(name.to_string());
        self
    }

    /// Inspects made so far.
    pub fn inspects(&self) -> usize {
        self.inspects.load(Ordering::SeqCst)
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl EngineRead for FakeEngine {
    fn containers(&self) -> Result<Vec<ContainerSummary>> {
        Ok(self
            .containers
            .iter()
            .map(|c| {
                let name = text(c, "/Name").trim_start_matches('/').to_string();
                let image = if self.moved.contains(&name) {
                    text(c, "/Image")
                } else {
                    text(c, "/Config/Image")
                };
                ContainerSummary {
                    id: text(c, "/Id").into(),
                    names: vec![format!("/{name}")],
                    image: image.into(),
                    image_id: text(c, "/Image").into(),
                    state: text(c, "/State/Status").into(),
                    labels: None,
                }
            })
            .collect())
    }

    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>> {
        self.inspects.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .containers
            .iter()
            .find(|c| text(c, "/Id") == name || text(c, "/Name") == format!("/{name}"))
            .filter(|c| {
                let listed = text(c, "/Name").trim_start_matches('/');
                !self.vanished.iter().any(|v| v == listed)
            })
            .map(|c| ContainerInspect::from_value(c.clone()))
            .transpose()?)
    }

    fn inspect_image(&self, id: &str) -> Result<Option<ImageInspect>> {
        self.inspects.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .images
            .iter()
            .find(|i| text(i, "/Id") == id)
            .map(|i| ImageInspect::from_value(i.clone()))
            .transpose()?)
    }

    fn images(&self) -> Result<Vec<ImageSummary>> {
        let listed: Vec<Value> = self
            .images
            .iter()
            .filter(|i| !self.hidden.iter().any(|h| h == text(i, "/Id")))
            .cloned()
            .collect();
        Ok(serde_json::from_value(Value::Array(listed))?)
    }

    fn api(&self) -> (u32, u32) {
        (1, 41)
    }

    fn logs_tail(&self, _: &str, _: u32) -> Result<String> {
        Ok(String::new())
    }

    fn watch(&self, _: &str, _: bool, _: std::time::Duration) -> Result<super::ExitWatch> {
        Ok(super::ExitWatch::default())
    }

    /// Not a swarm node.
    fn swarm_state(&self) -> Result<String> {
        Ok("inactive".into())
    }

    fn services(&self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }

    fn inspect_service(&self, _name: &str) -> Result<Option<Value>> {
        Ok(None)
    }

    fn tasks(&self, _service_id: &str) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}
