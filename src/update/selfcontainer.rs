//! Knowing whether dum itself runs in a container, and which: dum must never recreate
//! the container it runs in (it would kill itself halfway through the transaction).

/// The 64-hex container ID found in `/proc/self/mountinfo` or `/proc/self/cgroup` text:
/// Docker bind-mounts `/var/lib/docker/containers/<id>/hostname` (and resolv.conf,
/// hosts) into every container, and cgroup v1 paths name `/docker/<id>`.
pub fn container_id_in(text: &str) -> Option<String> {
    for marker in ["/containers/", "/docker/", "docker-"] {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if id.len() == 64 {
                return Some(id);
            }
        }
    }
    None
}

/// The ID of the container this process runs in, if any.
pub fn own_container_id() -> Option<String> {
    ["/proc/self/mountinfo", "/proc/self/cgroup"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|t| container_id_in(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_container_id() {
        let id = "3659540c4de695e622771420dfbdb87cd47d8fb1229d9d6b90066ea638aa65bd";
        let cases: Vec<(String, Option<&str>)> = vec![
            (
                format!(
                    "612 600 254:0 /var/lib/docker/containers/{id}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw"
                ),
                Some(id),
            ),
            (format!("12:memory:/docker/{id}\n"), Some(id)),
            (format!("0::/system.slice/docker-{id}.scope\n"), Some(id)),
            ("0::/init.scope\n".to_string(), None),
            (
                "612 600 254:0 / / rw - ext4 /dev/vda rw\n".to_string(),
                None,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(container_id_in(&text).as_deref(), want, "{text}");
        }
    }
}
