//! The `socket` device: lines go to a TCP or Unix stream socket.
//!
//! Options: `address` (`host:port`, or a path for `socket_type = "unix"`),
//! `socket_type` (`tcp`, default, or `unix`), `write_timeout` (default
//! `2s`; also the device's timeout unless `timeout` is given). The
//! connection is made when the device is enabled, and again after any
//! failed write; a write that blocks longer than the timeout fails.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::Sink;
use crate::audit::error::AuditError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp,
    #[cfg(unix)]
    Unix,
}

enum Conn {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

pub(crate) struct SocketSink {
    kind: Kind,
    address: String,
    timeout: Duration,
    conn: Option<Conn>,
}

pub(super) fn from_options(
    o: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Box<dyn Sink>, AuditError> {
    let address = o
        .get("address")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuditError::BadRequest("address is required".into()))?;
    let kind = match o.get("socket_type").map(|s| s.trim()) {
        None | Some("") | Some("tcp") => Kind::Tcp,
        #[cfg(unix)]
        Some("unix") => Kind::Unix,
        Some(_) => {
            return Err(AuditError::BadRequest(
                "option \"socket_type\" must be tcp or unix".into(),
            ))
        }
    };
    Ok(Box::new(SocketSink {
        kind,
        address,
        timeout,
        conn: None,
    }))
}

impl Sink for SocketSink {
    fn open(&mut self) -> io::Result<()> {
        self.conn = Some(match self.kind {
            Kind::Tcp => {
                let mut last =
                    io::Error::new(io::ErrorKind::InvalidInput, "address resolves to nothing");
                let mut conn = None;
                for addr in self.address.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, self.timeout) {
                        Ok(s) => {
                            conn = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = conn.ok_or(last)?;
                s.set_write_timeout(Some(self.timeout))?;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
            #[cfg(unix)]
            Kind::Unix => {
                let s = std::os::unix::net::UnixStream::connect(&self.address)?;
                s.set_write_timeout(Some(self.timeout))?;
                Conn::Unix(s)
            }
        });
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    fn close(&mut self) {
        self.conn = None;
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.conn {
            Some(Conn::Tcp(s)) => s.write_all(buf),
            #[cfg(unix)]
            Some(Conn::Unix(s)) => s.write_all(buf),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "not connected")),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match &mut self.conn {
            Some(Conn::Tcp(s)) => s.flush(),
            #[cfg(unix)]
            Some(Conn::Unix(s)) => s.flush(),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "not connected")),
        }
    }

    fn is_stream(&self) -> bool {
        true
    }
}
