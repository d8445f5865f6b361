//! Linux: the one TCP socket between a loopback peer and the gateway, asked of the kernel with an
//! exact `NETLINK_SOCK_DIAG` request (sock_diag(7), `inet_diag_req_v2` without `NLM_F_DUMP` and
//! with `INET_DIAG_NOCOOKIE`): the kernel looks the socket up by its four-tuple in its hash table
//! and answers with its owner's uid and its inode. Reading `/proc/net/tcp` instead makes the kernel
//! walk every TCP socket it has, which costs milliseconds per new connection once thousands are
//! open.

use std::net::SocketAddr;

use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use super::SocketRow;

/// The peer's socket (source = the peer's address, destination = ours): `Ok(None)` when the kernel
/// has no such socket (it closed), `Err` when netlink itself could not be used.
pub(super) fn find_socket(
    remote: SocketAddr,
    local: SocketAddr,
) -> std::io::Result<Option<SocketRow>> {
    let family = if remote.is_ipv4() { AF_INET } else { AF_INET6 };
    let socket_id = SocketId {
        source_port: remote.port(),
        destination_port: local.port(),
        source_address: remote.ip(),
        destination_address: local.ip(),
        interface_id: 0,
        // INET_DIAG_NOCOOKIE: any socket with this four-tuple.
        cookie: [0xff; 8],
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut request = vec![0; packet.buffer_len()];
    packet.serialize(&mut request);

    let mut netlink = Socket::new(NETLINK_SOCK_DIAG)?;
    netlink.bind_auto()?;
    netlink.connect(&NetlinkAddr::new(0, 0))?;
    netlink.send(&request, 0)?;
    let mut answer = vec![0; 8192];
    let size = netlink.recv(&mut &mut answer[..], 0)?;
    let message = <NetlinkMessage<SockDiagMessage>>::deserialize(&answer[..size])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    match message.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
            Ok(Some(SocketRow {
                local: SocketAddr::new(
                    response.header.socket_id.source_address,
                    response.header.socket_id.source_port,
                ),
                remote: SocketAddr::new(
                    response.header.socket_id.destination_address,
                    response.header.socket_id.destination_port,
                ),
                uid: response.header.uid,
                inode: u64::from(response.header.inode),
            }))
        }
        // ENOENT: no such socket (the peer already closed it).
        NetlinkPayload::Error(error) if error.code.is_some_and(|c| c.get() == -2) => Ok(None),
        NetlinkPayload::Error(error) => Err(std::io::Error::other(error.to_string())),
        _ => Err(std::io::Error::other("unexpected sock_diag answer")),
    }
}
