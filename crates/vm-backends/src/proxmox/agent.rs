//! What the QEMU guest agent says, through the PVE API: the VM's address (the interface whose
//! MAC is net0's, IPv4 first, never loopback, link-local or a container bridge) and its SSH
//! host key (`file-read` of the public key: PVE's authenticated API, not the network).

use std::net::IpAddr;

use serde_json::Value;
use vm::backend::BackendError;

use super::Proxmox;
use super::api::ApiError;

/// Where the guest's ed25519 host key is.
const HOST_KEY_FILE: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// Interfaces of container runtimes and bridges inside the guest: never the VM's address.
const BRIDGE_PREFIXES: [&str; 10] = [
    "docker", "br-", "virbr", "veth", "cni", "flannel", "cali", "lxc", "podman", "kube",
];

/// Whether an agent error only means "not yet": the agent is not running (yet), or not
/// configured until the VM's start applies it.
fn not_yet(error: &ApiError) -> bool {
    let message = error.message();
    matches!(error, ApiError::Failed { .. })
        && (message.contains("guest agent is not running")
            || message.contains("not running")
            || message.contains("got timeout"))
}

/// The VM's address from the agent, on the interface with `mac` (net0's, read once by the
/// caller); `None` while the agent does not answer or reports none.
pub fn address(
    proxmox: &Proxmox,
    node: &str,
    vmid: u32,
    mac: Option<&str>,
) -> Result<Option<IpAddr>, BackendError> {
    let path = format!("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces");
    match proxmox.api.get(&path, &[]) {
        Ok(data) => Ok(pick(data.get("result").unwrap_or(&data), mac)),
        Err(e) if not_yet(&e) => Ok(None),
        Err(e) => Err(proxmox.fail(&format!("cannot ask VM {vmid}'s guest agent"), e)),
    }
}

/// The MAC address of net0 (`virtio=BC:24:11:…,bridge=vmbr0`), lower case.
pub fn net0_mac(proxmox: &Proxmox, node: &str, vmid: u32) -> Result<Option<String>, BackendError> {
    let config = proxmox
        .api
        .get(&format!("/nodes/{node}/qemu/{vmid}/config"), &[])
        .map_err(|e| proxmox.fail(&format!("cannot read VM {vmid}'s configuration"), e))?;
    Ok(config.get("net0").and_then(Value::as_str).and_then(mac_of))
}

/// The MAC in a `netN` value.
pub fn mac_of(net: &str) -> Option<String> {
    net.split(',')
        .filter_map(|part| part.split_once('=').map(|(_, v)| v))
        .find(|v| v.len() == 17 && v.split(':').count() == 6)
        .map(str::to_ascii_lowercase)
}

/// The address Ansible should use among the interfaces the agent lists: those with net0's MAC
/// when it is known (else every interface but loopback and bridges), IPv4 first.
pub fn pick(interfaces: &Value, mac: Option<&str>) -> Option<IpAddr> {
    let interfaces = interfaces.as_array()?;
    let candidates: Vec<&Value> = interfaces
        .iter()
        .filter(|i| {
            let name = i.get("name").and_then(Value::as_str).unwrap_or("");
            let hardware = i
                .get("hardware-address")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            match mac {
                Some(mac) => hardware == mac,
                None => name != "lo" && !BRIDGE_PREFIXES.iter().any(|p| name.starts_with(p)),
            }
        })
        .collect();
    let addresses: Vec<IpAddr> = candidates
        .iter()
        .flat_map(|i| {
            i.get("ip-addresses")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        })
        .filter_map(|a| a.get("ip-address")?.as_str()?.parse().ok())
        .filter(|ip: &IpAddr| match ip {
            IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
            IpAddr::V6(v6) => {
                !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
            }
        })
        .collect();
    addresses
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}

/// What reading the host key through the agent gave.
pub enum HostKeyRead {
    /// The key (`ssh-ed25519 AAAA…`).
    Key(String),
    /// Not there yet (cloud-init has not made it, or the agent is not up).
    NotYet,
    /// The agent cannot read files (disabled by its configuration): why.
    Unsupported(String),
}

/// Reads the guest's host public key through the agent.
pub fn host_key(proxmox: &Proxmox, node: &str, vmid: u32) -> Result<HostKeyRead, BackendError> {
    let path = format!("/nodes/{node}/qemu/{vmid}/agent/file-read");
    match proxmox.api.get(&path, &[("file", HOST_KEY_FILE)]) {
        Ok(data) => {
            let content = data.get("content").and_then(Value::as_str).unwrap_or("");
            match vm::guest::seed::validate_public_key(content, HOST_KEY_FILE) {
                Ok(key) => Ok(HostKeyRead::Key(
                    key.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
                )),
                Err(_) => Ok(HostKeyRead::NotYet),
            }
        }
        Err(e) if not_yet(&e) => Ok(HostKeyRead::NotYet),
        Err(ApiError::Failed { message, .. })
            if message.contains("disabled")
                || message.contains("not allowed")
                || message.contains("not supported")
                || message.contains("No such file") =>
        {
            Ok(HostKeyRead::Unsupported(message))
        }
        Err(ApiError::Forbidden(message)) => Ok(HostKeyRead::Unsupported(message)),
        Err(e) => Err(proxmox.fail(&format!("cannot read VM {vmid}'s host key"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interfaces() -> Value {
        serde_json::json!([
            {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
                {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
            {"name": "docker0", "hardware-address": "02:42:ac:11:00:01", "ip-addresses": [
                {"ip-address": "172.17.0.1", "ip-address-type": "ipv4", "prefix": 16}]},
            {"name": "ens18", "hardware-address": "bc:24:11:aa:bb:cc", "ip-addresses": [
                {"ip-address": "fe80::bc24:11ff:feaa:bbcc", "ip-address-type": "ipv6", "prefix": 64},
                {"ip-address": "2001:db8::5", "ip-address-type": "ipv6", "prefix": 64},
                {"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": 24}]}
        ])
    }

    #[test]
    fn the_address_is_net0s_ipv4_never_loopback_bridge_or_link_local() {
        let mac = mac_of("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0");
        assert_eq!(mac.as_deref(), Some("bc:24:11:aa:bb:cc"));
        let ip = pick(&interfaces(), mac.as_deref());
        assert_eq!(ip, Some("10.0.0.5".parse().unwrap()));
        // Without a MAC: loopback and container bridges are skipped.
        assert_eq!(pick(&interfaces(), None), Some("10.0.0.5".parse().unwrap()));
        // A MAC no interface has: nothing yet.
        assert_eq!(pick(&interfaces(), Some("bc:24:11:00:00:00")), None);
    }

    #[test]
    fn ipv6_is_taken_only_when_there_is_no_ipv4() {
        let only_v6 = serde_json::json!([{"name": "ens18", "hardware-address": "bc:24:11:aa:bb:cc",
            "ip-addresses": [{"ip-address": "fe80::1"}, {"ip-address": "2001:db8::5"}]}]);
        assert_eq!(pick(&only_v6, None), Some("2001:db8::5".parse().unwrap()));
    }
}
