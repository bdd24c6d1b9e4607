//! Loopback addresses held for the length of a test.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// A loopback port that belongs to one service for as long as this value
/// lives, whether the service is running or not.
///
/// The port is held by a socket that is bound but never listens: while no
/// service runs, a connection to it is refused at once, as it would be by a
/// machine whose service died, and no other program can take the port (the
/// kernel never hands it out for port 0). [`HeldPort::listen`] opens a
/// listening socket on the same port beside it (both set `SO_REUSEPORT`),
/// for the service to serve on; when that socket closes — its process was
/// killed — connections are refused again, and the next `listen` gives the
/// restarted service the same address.
#[derive(Debug)]
pub struct HeldPort {
    _placeholder: Socket,
    addr: SocketAddr,
}

impl HeldPort {
    /// A new port on 127.0.0.1, chosen by the kernel.
    pub fn new() -> io::Result<HeldPort> {
        let placeholder = reusable_socket()?;
        placeholder.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
        let addr = placeholder
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("a loopback socket has an IP address"))?;
        Ok(HeldPort {
            _placeholder: placeholder,
            addr,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A listening socket on this port, to serve on or hand to a child.
    pub fn listen(&self) -> io::Result<TcpListener> {
        let socket = reusable_socket()?;
        socket.bind(&self.addr.into())?;
        socket.listen(1024)?;
        Ok(socket.into())
    }
}

fn reusable_socket() -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_port(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn refuses_until_listened_on_and_after_that_socket_closes() {
        let port = HeldPort::new().unwrap();
        let refused = |addr| TcpStream::connect(addr).unwrap_err().kind();
        assert_eq!(refused(port.addr()), io::ErrorKind::ConnectionRefused);
        let listener = port.listen().unwrap();
        TcpStream::connect(port.addr()).unwrap();
        drop(listener);
        assert_eq!(refused(port.addr()), io::ErrorKind::ConnectionRefused);
        // Nobody else gets the port meanwhile, and it serves again.
        assert!(TcpListener::bind(port.addr()).is_err());
        let _again = port.listen().unwrap();
        TcpStream::connect(port.addr()).unwrap();
    }
}
