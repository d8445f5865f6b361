//! Who is calling: the OS account and process at the other end of a loopback TCP connection.
//!
//! Every program on this computer can reach 127.0.0.1, including programs of *other* OS accounts
//! (another person logged in, a service account, a sandboxed daemon). The gateway's promise is that
//! only the person at this desktop decides, so the account of the peer is read from the kernel, not
//! from anything the peer says.
//!
//! # How the peer is found
//! - **Linux** (implemented and tested here): the client's end of the connection is the TCP socket
//!   whose *local* address is our peer address and whose *remote* address is our own. Its owner uid and
//!   inode are columns of `/proc/net/tcp` (and `/proc/net/tcp6` for a dual-stack socket that connected
//!   to `::ffff:127.0.0.1`); the owning process is the one with `socket:[inode]` under
//!   `/proc/<pid>/fd`, and its executable is `/proc/<pid>/exe`. Only processes of the socket's own uid
//!   are scanned. A gateway that is not root cannot read another account's `/proc/<pid>/fd`, so for
//!   another account the uid is known and the process is not — which is all the policy needs.
//! - **macOS and Windows**: the `portable` module, with the maintained crates `netstat2` (socket →
//!   pid: `proc_pidfdinfo` / `GetExtendedTcpTable`) and `sysinfo` (pid → account, executable), so no
//!   `unsafe` of ours. How it was checked: the same code is compiled and run on Linux in this
//!   module's tests, where it must agree with the `/proc` lookup; it was **not** compiled for macOS or
//!   Windows (no standard library for those targets can be fetched on the build machine). So there it
//!   fails open: only a peer positively seen as another account is refused, and a failed lookup is
//!   [`PeerUser::Unsupported`], treated as the desktop user as before. README's threat model says so.
//!
//! The lookup runs at most once per accepted connection and only when a route needs it
//! ([`PeerConnection::user`], [`PeerConnection::process`]), on the blocking pool.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::OnceCell;

/// The OS account at the other end of a connection, as far as this OS lets Gatehouse see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerUser {
    /// The account Gatehouse itself runs as: the person at this desktop.
    Desktop,
    /// Another OS account: its uid (Unix) or SID (Windows), as text.
    Other { account: String },
    /// The peer's socket could not be found (it closed already, or `/proc` is unreadable).
    Unknown,
    /// This OS has no lookup yet (module docs); treated as the desktop user.
    Unsupported,
}

impl PeerUser {
    /// Whether this peer may act as the person at this desktop.
    pub fn is_desktop(&self) -> bool {
        matches!(self, PeerUser::Desktop | PeerUser::Unsupported)
    }

    /// Short words for logs and the audit log (no secret in them).
    pub fn describe(&self) -> String {
        match self {
            PeerUser::Desktop => String::from("this desktop's account"),
            PeerUser::Other { account } => format!("another OS account ({account})"),
            PeerUser::Unknown => String::from("an account that could not be determined"),
            PeerUser::Unsupported => {
                String::from("an account this OS does not let Gatehouse check")
            }
        }
    }
}

/// The process at the other end of a connection, seen by the OS (not reported by the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProcess {
    pub pid: u32,
    /// The executable's path, when the OS shows it.
    pub exe: Option<String>,
}

/// The connect info of every accepted connection (`gateway::server` adds it to each request): its two addresses and, resolved on first use, who
/// is behind the peer address. Cloning shares the resolution.
#[derive(Debug, Clone)]
pub struct PeerConnection {
    /// The peer's address (the client's end).
    pub remote: SocketAddr,
    /// Our address (the gateway's end).
    pub local: SocketAddr,
    user: Arc<OnceCell<PeerUser>>,
    process: Arc<OnceCell<Option<PeerProcess>>>,
}

impl PeerConnection {
    /// A connection between `remote` (the peer) and `local` (the gateway), not resolved yet.
    pub fn new(remote: SocketAddr, local: SocketAddr) -> Self {
        PeerConnection {
            remote,
            local,
            user: Arc::new(OnceCell::new()),
            process: Arc::new(OnceCell::new()),
        }
    }

    /// A connection whose peer is already known: for requests that do not come from a socket
    /// (router tests with `oneshot`).
    pub fn known(user: PeerUser, process: Option<PeerProcess>) -> Self {
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        PeerConnection {
            remote: unspecified,
            local: unspecified,
            user: Arc::new(OnceCell::new_with(Some(user))),
            process: Arc::new(OnceCell::new_with(Some(process))),
        }
    }

    /// The request's peer: the socket's (`ConnectInfo`, set by `gateway::server`), or one a test
    /// put in the extensions; `None` for a request that came through neither.
    pub fn of_request(extensions: &http::Extensions) -> Option<PeerConnection> {
        extensions
            .get::<axum::extract::ConnectInfo<PeerConnection>>()
            .map(|info| info.0.clone())
            .or_else(|| extensions.get::<PeerConnection>().cloned())
    }

    /// The peer's OS account, looked up once per connection.
    pub async fn user(&self) -> PeerUser {
        let (remote, local) = (self.remote, self.local);
        self.user
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || lookup_user(remote, local))
                    .await
                    .unwrap_or(PeerUser::Unknown)
            })
            .await
            .clone()
    }

    /// The peer's process, looked up once per connection (a scan of the account's processes).
    pub async fn process(&self) -> Option<PeerProcess> {
        let (remote, local) = (self.remote, self.local);
        self.process
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || lookup_process(remote, local))
                    .await
                    .ok()
                    .flatten()
            })
            .await
            .clone()
    }
}

/// The peer of the request, as an extractor: the socket's [`PeerConnection`] (or one a test added to
/// the request's extensions); `None` for a request that came through neither.
#[derive(Debug, Clone)]
pub struct Peer(pub Option<PeerConnection>);

impl Peer {
    /// The peer's process, when the OS shows it.
    pub async fn process(&self) -> Option<PeerProcess> {
        match &self.0 {
            Some(peer) => peer.process().await,
            None => None,
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let from_socket = parts
            .extensions
            .get::<axum::extract::ConnectInfo<PeerConnection>>()
            .map(|info| info.0.clone());
        Ok(Peer(from_socket.or_else(|| {
            parts.extensions.get::<PeerConnection>().cloned()
        })))
    }
}

#[cfg(target_os = "linux")]
fn lookup_user(remote: SocketAddr, local: SocketAddr) -> PeerUser {
    match linux::find_socket(remote, local) {
        Some(socket) if Some(socket.uid) == linux::own_uid() => PeerUser::Desktop,
        Some(socket) => PeerUser::Other {
            account: format!("uid {}", socket.uid),
        },
        None => PeerUser::Unknown,
    }
}

#[cfg(target_os = "linux")]
fn lookup_process(remote: SocketAddr, local: SocketAddr) -> Option<PeerProcess> {
    let socket = linux::find_socket(remote, local)?;
    let pid = linux::pid_holding(socket.inode, socket.uid)?;
    Some(PeerProcess {
        pid,
        exe: linux::executable(pid),
    })
}

#[cfg(not(target_os = "linux"))]
fn lookup_user(remote: SocketAddr, local: SocketAddr) -> PeerUser {
    portable::lookup_user(remote, local)
}

#[cfg(not(target_os = "linux"))]
fn lookup_process(remote: SocketAddr, local: SocketAddr) -> Option<PeerProcess> {
    portable::lookup_process(remote, local)
}

/// macOS and Windows: `netstat2` finds the process holding the peer's socket (`proc_pidfdinfo` on
/// macOS, `GetExtendedTcpTable` on Windows) and `sysinfo` tells its account (uid, or SID) and
/// executable. Compiled and tested **on Linux** (the crates are cross-platform: the test below runs
/// this path against a real socket and compares it with the `/proc` lookup); not compiled for
/// macOS or Windows on the build machine. Because of that it fails *open*: a lookup that finds
/// nothing is [`PeerUser::Unsupported`] (the behaviour before this module), and only a peer
/// positively seen as another account is refused.
#[cfg(any(not(target_os = "linux"), test))]
mod portable {
    use std::net::SocketAddr;

    use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, iterate_sockets_info};
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, Uid, UpdateKind};

    use super::{PeerProcess, PeerUser, same_endpoint};

    /// The process holding the peer's end: local address = the peer, remote = us.
    fn pid_of(remote: SocketAddr, local: SocketAddr) -> Option<u32> {
        let sockets = iterate_sockets_info(
            AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
            ProtocolFlags::TCP,
        )
        .ok()?;
        sockets
            .filter_map(Result::ok)
            .find_map(|info| match &info.protocol_socket_info {
                ProtocolSocketInfo::Tcp(tcp)
                    if same_endpoint(SocketAddr::new(tcp.local_addr, tcp.local_port), remote)
                        && same_endpoint(
                            SocketAddr::new(tcp.remote_addr, tcp.remote_port),
                            local,
                        ) =>
                {
                    info.associated_pids.iter().min().copied()
                }
                _ => None,
            })
    }

    /// A process's account and executable.
    fn seen(pid: u32) -> Option<(Option<Uid>, Option<String>)> {
        let pid = Pid::from_u32(pid);
        let mut system = System::new().ok()?;
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing()
                .with_user(UpdateKind::Always)
                .with_exe(UpdateKind::Always),
        );
        let process = system.process(pid)?;
        Some((
            process.user_id().cloned(),
            process.exe().map(|e| e.to_string_lossy().into_owned()),
        ))
    }

    pub(super) fn lookup_user(remote: SocketAddr, local: SocketAddr) -> PeerUser {
        let Some(pid) = pid_of(remote, local) else {
            return PeerUser::Unsupported;
        };
        let peer = seen(pid).and_then(|(user, _)| user);
        let own = seen(std::process::id()).and_then(|(user, _)| user);
        match (peer, own) {
            (Some(peer), Some(own)) if peer == own => PeerUser::Desktop,
            (Some(peer), Some(_)) => PeerUser::Other {
                account: format!("{peer:?}"),
            },
            _ => PeerUser::Unsupported,
        }
    }

    pub(super) fn lookup_process(remote: SocketAddr, local: SocketAddr) -> Option<PeerProcess> {
        let pid = pid_of(remote, local)?;
        Some(PeerProcess {
            pid,
            exe: seen(pid).and_then(|(_, exe)| exe),
        })
    }
}

/// One row of `/proc/net/tcp{,6}`: the socket's two ends, owner and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketRow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub uid: u32,
    pub inode: u64,
}

/// Parses one line of `/proc/net/tcp` or `/proc/net/tcp6` (the kernel's `tcp4_seq_show` /
/// `tcp6_seq_show` format: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`, addresses
/// as the in-memory words of the address in hex, ports in hex). `None` for the header or anything
/// malformed.
pub(crate) fn parse_socket_row(line: &str) -> Option<SocketRow> {
    let mut fields = line.split_whitespace();
    let _slot = fields.next()?;
    let local = parse_endpoint(fields.next()?)?;
    let remote = parse_endpoint(fields.next()?)?;
    let mut rest = fields.skip(4);
    let uid = rest.next()?.parse().ok()?;
    let _timeout = rest.next()?;
    let inode = rest.next()?.parse().ok()?;
    Some(SocketRow {
        local,
        remote,
        uid,
        inode,
    })
}

fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = match address.len() {
        8 | 32 => address
            .as_bytes()
            .chunks(8)
            .map(|chunk| {
                std::str::from_utf8(chunk)
                    .ok()
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    // Each word is printed as the CPU reads the address's bytes, so native order gives them back.
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        _ => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&bytes);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    };
    Some(SocketAddr::new(ip, port))
}

/// Whether two socket addresses are the same endpoint, an IPv4-mapped IPv6 address counting as its
/// IPv4 address.
pub(crate) fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canonical(a.ip()) == canonical(b.ip())
}

#[cfg(target_os = "linux")]
#[path = "caller_sock_diag.rs"]
mod sock_diag;

#[cfg(target_os = "linux")]
mod linux {
    use std::net::SocketAddr;

    use super::{SocketRow, parse_socket_row, same_endpoint};

    /// The peer's socket: local end = the peer address, remote end = ours. Asked of the kernel by
    /// an exact sock_diag query (a hash lookup of the one socket); the `/proc/net/tcp` tables,
    /// which the kernel builds by walking every TCP socket, only when netlink is not available.
    pub(super) fn find_socket(remote: SocketAddr, local: SocketAddr) -> Option<SocketRow> {
        match super::sock_diag::find_socket(remote, local) {
            Ok(found) => found,
            Err(_) => find_socket_in_proc(remote, local),
        }
    }

    /// [`find_socket`] by reading `/proc/net/tcp` and `/proc/net/tcp6`.
    pub(super) fn find_socket_in_proc(remote: SocketAddr, local: SocketAddr) -> Option<SocketRow> {
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .into_iter()
            .filter_map(|table| std::fs::read_to_string(table).ok())
            .find_map(|text| {
                text.lines().filter_map(parse_socket_row).find(|row| {
                    same_endpoint(row.local, remote) && same_endpoint(row.remote, local)
                })
            })
    }

    /// The effective uid of this process (`/proc/self/status`, line `Uid: real effective …`).
    pub(super) fn own_uid() -> Option<u32> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    }

    /// The first process of account `uid` that holds socket `inode` open.
    pub(super) fn pid_holding(inode: u64, uid: u32) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        let wanted = format!("socket:[{inode}]");
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        pids.into_iter().find(|pid| {
            let dir = format!("/proc/{pid}");
            if std::fs::metadata(&dir).map(|m| m.uid()).ok() != Some(uid) {
                return false;
            }
            let Ok(fds) = std::fs::read_dir(format!("{dir}/fd")) else {
                return false;
            };
            fds.filter_map(Result::ok).any(|fd| {
                std::fs::read_link(fd.path())
                    .ok()
                    .is_some_and(|target| target.as_os_str() == wanted.as_str())
            })
        })
    }

    /// `/proc/<pid>/exe`, when readable.
    pub(super) fn executable(pid: u32) -> Option<String> {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|path| path.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
#[path = "caller_tests.rs"]
mod tests;
