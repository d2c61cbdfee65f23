//! How the apiserver reaches a node's kubelet (upstream's `NodeConnectionInfoGetter`): the
//! first of the node's addresses in `--kubelet-preferred-address-types` order, and the port the
//! kubelet reports in `status.daemonEndpoints`, else `--kubelet-port`.

use serde_json::Value;

/// The node's address to dial, or upstream's `NoMatchError` text.
pub fn preferred_address(node: &Value, types: &[String]) -> Result<String, String> {
    let addresses = node["status"]["addresses"].as_array().cloned().unwrap_or_default();
    for t in types {
        if let Some(a) = addresses.iter().find(|a| a["type"].as_str() == Some(t.as_str())) {
            return Ok(a["address"].as_str().unwrap_or("").to_string());
        }
    }
    // Go's `%v` of `[]NodeAddress`: `[{InternalIP 10.0.0.1} {Hostname n1}]`.
    let known: Vec<String> = addresses
        .iter()
        .map(|a| format!("{{{} {}}}", a["type"].as_str().unwrap_or(""), a["address"].as_str().unwrap_or("")))
        .collect();
    Err(format!("no preferred addresses found; known addresses: [{}]", known.join(" ")))
}

/// The kubelet's port: what the node reports, else the default.
pub fn kubelet_port(node: &Value, default: u16) -> u16 {
    node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn the_first_preferred_type_wins() {
        let node = json!({"status": {"addresses": [
            {"type": "InternalIP", "address": "172.18.0.2"},
            {"type": "Hostname", "address": "node1"}
        ]}});
        let default = types("Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP");
        assert_eq!(preferred_address(&node, &default).unwrap(), "node1");
        assert_eq!(preferred_address(&node, &types("InternalIP,Hostname")).unwrap(), "172.18.0.2");
        assert_eq!(
            preferred_address(&node, &types("ExternalIP")).unwrap_err(),
            "no preferred addresses found; known addresses: [{InternalIP 172.18.0.2} {Hostname node1}]"
        );
        assert_eq!(
            preferred_address(&json!({"status": {}}), &default).unwrap_err(),
            "no preferred addresses found; known addresses: []"
        );
    }

    #[test]
    fn the_reported_port_else_the_flag() {
        let node = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10350}}}});
        assert_eq!(kubelet_port(&node, 10250), 10350);
        assert_eq!(
            kubelet_port(&json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}}), 10250),
            10250
        );
        assert_eq!(kubelet_port(&json!({}), 10250), 10250);
    }
}
