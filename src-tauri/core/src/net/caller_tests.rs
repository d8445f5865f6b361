//! The caller of a loopback connection: parsing /proc/net/tcp rows, IPv4-mapped addresses, this
//! process's own connection, the portable lookup agreeing with /proc, and a closed peer.

use super::*;

#[test]
fn parses_a_proc_net_tcp_row() {
    // A real line of /proc/net/tcp on a little-endian machine: 127.0.0.1:47474 → 127.0.0.1:53122.
    let line = "   3: 0100007F:B972 0100007F:CF82 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1";
    let row = parse_socket_row(line).expect("a well-formed row parses");
    if cfg!(target_endian = "little") {
        assert_eq!(row.local.to_string(), "127.0.0.1:47474", "local end");
        assert_eq!(row.remote.to_string(), "127.0.0.1:53122", "remote end");
    }
    assert_eq!(row.uid, 1000, "the owner uid column");
    assert_eq!(row.inode, 424_242, "the inode column");
    assert_eq!(
        parse_socket_row("  sl  local_address rem_address   st tx_queue rx_queue"),
        None,
        "the header is not a row"
    );
    assert_eq!(
        parse_socket_row("0: zz:1 00:2"),
        None,
        "garbage is not a row"
    );
}

#[test]
fn ipv4_mapped_ipv6_is_the_same_endpoint() {
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().expect("literal");
    let plain: SocketAddr = "127.0.0.1:4000".parse().expect("literal");
    assert!(
        same_endpoint(mapped, plain),
        "a dual-stack socket's address"
    );
    assert!(
        !same_endpoint(plain, "127.0.0.1:4001".parse().expect("literal")),
        "another port is another endpoint"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_connection_from_this_process_is_the_desktop_user_and_names_this_executable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local addr");
    let client = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (server_side, remote) = listener.accept().await.expect("accept");
    let local = server_side.local_addr().expect("local addr");
    assert_eq!(remote, client.local_addr().expect("client addr"));

    let peer = PeerConnection::new(remote, local);
    assert_eq!(
        peer.user().await,
        PeerUser::Desktop,
        "the peer runs as this test's own account"
    );
    let process = peer.process().await.expect("this process holds the socket");
    assert_eq!(
        process.pid,
        std::process::id(),
        "the pid of this test process"
    );
    let own_exe = std::env::current_exe().expect("current exe");
    assert_eq!(
        process.exe.as_deref(),
        Some(own_exe.to_string_lossy().as_ref()),
        "the executable seen by the OS"
    );
}

/// The macOS/Windows path (`netstat2` + `sysinfo`), run here on Linux against the same kind of
/// socket: it must agree with the `/proc` lookup.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_portable_lookup_agrees_with_the_proc_lookup() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local addr");
    let _client = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (server_side, remote) = listener.accept().await.expect("accept");
    let local = server_side.local_addr().expect("local addr");
    let (user, process) = tokio::task::spawn_blocking(move || {
        (
            portable::lookup_user(remote, local),
            portable::lookup_process(remote, local),
        )
    })
    .await
    .expect("join");
    assert_eq!(user, PeerUser::Desktop, "same account as the /proc lookup");
    let via_proc = PeerConnection::new(remote, local).process().await;
    assert_eq!(
        process, via_proc,
        "same pid and executable as the /proc lookup"
    );
    assert_eq!(
        process.map(|p| p.pid),
        Some(std::process::id()),
        "this test process holds the peer socket"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_closed_peer_is_unknown_not_the_desktop_user() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let local = listener.local_addr().expect("local addr");
    // Nobody holds a socket at this peer address.
    let peer = PeerConnection::new("127.0.0.1:1".parse().expect("literal"), local);
    assert_eq!(
        peer.user().await,
        PeerUser::Unknown,
        "no socket found → not trusted as the desktop user"
    );
    assert!(!peer.user().await.is_desktop(), "unknown fails closed");
}

/// The exact sock_diag query finds the same socket as the `/proc/net/tcp` scan (owner and inode),
/// and reports a four-tuple nobody holds as absent, not as an error.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_sock_diag_query_agrees_with_the_proc_table() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local addr");
    let _client = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (server_side, remote) = listener.accept().await.expect("accept");
    let local = server_side.local_addr().expect("local addr");
    let (exact, scanned, nobody) = tokio::task::spawn_blocking(move || {
        (
            sock_diag::find_socket(remote, local),
            linux::find_socket_in_proc(remote, local),
            sock_diag::find_socket("127.0.0.1:1".parse().expect("literal"), local),
        )
    })
    .await
    .expect("join");
    let exact = exact
        .expect("netlink answers on Linux")
        .expect("the peer's socket is found");
    let scanned = scanned.expect("the /proc table has it too");
    assert_eq!(
        (exact.local, exact.remote, exact.uid, exact.inode),
        (scanned.local, scanned.remote, scanned.uid, scanned.inode)
    );
    assert!(exact.inode != 0, "a real socket has an inode");
    assert!(
        matches!(nobody, Ok(None)),
        "no socket with that four-tuple: {:?}",
        nobody.map(|r| r.map(|r| r.inode))
    );
}
